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

# Debian's Go (1.19), installed with apt-get only when the machine has none.
go-toolchain:
	@command -v go >/dev/null 2>&1 || { \
		echo "installing golang-go"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; }

# cgo finds the library through the build tree's pkg-config file (its rpath too); the
# independent clients are Python's websockets from .venv. GOPROXY=off: no module is fetched.
test-go: c-lib go-toolchain $(VENV_TOOLS)
	@test -z "$$(gofmt -l bindings/go examples/readme)" || { echo "gofmt: run gofmt -w bindings/go examples/readme"; gofmt -l bindings/go examples/readme; exit 1; }
	cd bindings/go && PKG_CONFIG_PATH=$(C_LIBDIR) GOPROXY=off GOFLAGS=-mod=mod \
		WSC_TEST_PYTHON=$(abspath $(VENV_PYTHON)) timeout 600 go test -race -count=1 .
