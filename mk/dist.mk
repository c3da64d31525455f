# Release artifacts, for people who install without a Rust toolchain.
#   make dist        into dist/, from release builds: the Python wheel (abi3: one wheel for
#                    CPython 3.9+, extension stripped) and sdist; the C archive
#                    wsconnector-VERSION-linux-x86_64.tar.gz (shared and static libraries, soname
#                    link, header, C++ wrapper, relocatable pkg-config files); the npm package
#                    wsconnector-VERSION.tgz, which carries the shared library
#   make test-dist   the same artifacts from the dev profile into target/dist-test (the packaging
#                    is the same; the debug builds are already there from the other tests), each
#                    installed as a user would and used with no Rust toolchain on PATH
#                    (tests/dist/test_install.py)
#   make test-dist DIST_OUT=dist DIST_PROFILE=release   the same test on `make dist`'s artifacts
.PHONY: dist test-dist dist-artifacts dist-versions dist-python dist-c dist-node

DIST_OUT ?= dist
DIST_PROFILE ?= release
test-dist: DIST_OUT = target/dist-test
test-dist: DIST_PROFILE = dev

DIST_LIBDIR = target/$(if $(filter dev,$(DIST_PROFILE)),debug,$(DIST_PROFILE))
DIST_STAGE = target/dist-stage/$(DIST_PROFILE)
DIST_C_NAME = wsconnector-$(C_VERSION)-linux-x86_64
DIST_C_ROOT = $(DIST_STAGE)/$(DIST_C_NAME)

dist: dist-artifacts
	@ls -l $(DIST_OUT)

dist-artifacts: dist-python dist-c dist-node

# The package versions must be the library's: one release, one number.
dist-versions:
	@for f in python/Cargo.toml; do \
		v=$$(sed -n 's/^version = "\(.*\)"/\1/p' $$f | head -n 1); \
		[ "$$v" = "$(C_VERSION)" ] || { echo "$$f has version $$v, Cargo.toml $(C_VERSION)"; exit 1; }; \
	done
	@v=$$(node -p "require('./$(NODE_BINDING)/package.json').version"); \
		[ "$$v" = "$(C_VERSION)" ] || { echo "$(NODE_BINDING)/package.json has version $$v, Cargo.toml $(C_VERSION)"; exit 1; }

# CARGO_PROFILE_DEV_DEBUG=0 as in test-python, whose build the dev wheel then reuses.
dist-python: dist-versions $(VENV_TOOLS)
	@mkdir -p $(DIST_OUT)
	rm -f $(DIST_OUT)/wsconnector-*.whl $(DIST_OUT)/wsconnector-$(C_VERSION).tar.gz
	CARGO_PROFILE_DEV_DEBUG=0 $(VENV)/bin/maturin build --quiet --profile $(DIST_PROFILE) --strip \
		--manifest-path python/Cargo.toml --out $(DIST_OUT)
	$(VENV)/bin/maturin sdist --manifest-path python/Cargo.toml --out $(DIST_OUT)

# The libraries without their debug info; the .pc files find the prefix from where they are.
dist-c: dist-versions
	$(C_LIB_BUILD) --profile $(DIST_PROFILE) -- $(C_LIB_LINK)
	rm -rf $(DIST_C_ROOT)
	mkdir -p $(DIST_C_ROOT)/lib/pkgconfig $(DIST_C_ROOT)/include $(DIST_OUT)
	strip --strip-debug -o $(DIST_C_ROOT)/lib/libwsconnector.so.$(C_ABI) $(DIST_LIBDIR)/libwsconnector.so
	ln -s libwsconnector.so.$(C_ABI) $(DIST_C_ROOT)/lib/libwsconnector.so
	strip --strip-debug -o $(DIST_C_ROOT)/lib/libwsconnector.a $(DIST_LIBDIR)/libwsconnector.a
	cp include/wsconnector.h bindings/cpp/wsconnector.hpp $(DIST_C_ROOT)/include/
	for pc in wsconnector wsconnector-static; do \
		sed -e 's|@PREFIX@|$${pcfiledir}/../..|; s|@LIBDIR@|$${prefix}/lib|; s|@INCLUDEDIR@|$${prefix}/include|' \
			-e 's|@VERSION@|$(C_VERSION)|; s|@RPATH@||' mk/$$pc.pc.in > $(DIST_C_ROOT)/lib/pkgconfig/$$pc.pc; \
	done
	tar -C $(DIST_STAGE) -czf $(DIST_OUT)/$(DIST_C_NAME).tar.gz $(DIST_C_NAME)

# The package's files (package.json "files") and the shared library of the C archive.
dist-node: dist-c
	rm -rf $(DIST_STAGE)/node $(DIST_OUT)/wsconnector-$(C_VERSION).tgz
	mkdir -p $(DIST_STAGE)/node/native
	cp -r $(addprefix $(NODE_BINDING)/,package.json index.js index.d.ts src examples README.md) \
		$(DIST_STAGE)/node/
	cp $(DIST_C_ROOT)/lib/libwsconnector.so.$(C_ABI) $(DIST_STAGE)/node/native/
	cd $(DIST_STAGE)/node && npm pack --silent --pack-destination $(abspath $(DIST_OUT)) >/dev/null

# The npm install in the test takes koffi from npm's cache, which test-node-binding filled.
test-dist: dist-artifacts $(VENV_TOOLS) $(NODE_BINDING_DEPS)
	DIST_DIR=$(abspath $(DIST_OUT)) $(VENV_PYTHON) -m pytest -p no:cacheprovider --timeout 300 \
		-q tests/dist
