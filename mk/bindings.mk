# Bindings over the C ABI: Node.js (koffi) in bindings/node, Go (cgo) in bindings/go.
#   make test-node-binding   npm ci in bindings/node, then node --test against the built library
#   make test-go             go test (and go test -race) in bindings/go against the built library;
#                            installs Debian's golang-go when the machine has no go
.PHONY: test-node-binding test-go go-toolchain

NODE_BINDING := bindings/node
NODE_BINDING_DEPS := $(NODE_BINDING)/node_modules/.package-lock.json

$(NODE_BINDING_DEPS): $(NODE_BINDING)/package.json $(NODE_BINDING)/package-lock.json
	npm ci --prefix $(NODE_BINDING) --no-audit --no-fund

test-node-binding: c-lib $(NODE_BINDING_DEPS)
	cd $(NODE_BINDING) && WSCONNECTOR_LIB=$(C_LIBDIR)/libwsconnector.so.$(C_ABI) \
		timeout 300 node --test test/*.test.js
