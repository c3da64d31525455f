# The C API: the shared library with its soname link and pkg-config file, the header (generated
# by build.rs into OUT_DIR; `make header` copies it to include/), C and C++ tests under
# AddressSanitizer, loading through Python's ctypes, and the C examples.
#   make test-c        everything below, fails when include/wsconnector.h is stale
#   make header        refreshes include/wsconnector.h from src/ffi
#   make examples-c    builds the C examples into target/c/ (each has a --self-test)
#   make install-c PREFIX=/usr/local   installs library, header and pkg-config file
#   make c-lib RELEASE=1   the optimized library, with its pkg-config file, in target/release
.PHONY: c-lib header check-header test-c examples-c examples-c-self-test install-c c-tests cpp-test \
	ctypes-test

# RELEASE=1: the optimized build (target/release) instead of the debug one.
C_PROFILE := $(if $(RELEASE),release,debug)
C_LIBDIR := $(CURDIR)/target/$(C_PROFILE)
C_OUT := target/c
C_ABI := $(shell sed -n 's/^pub const WSC_ABI_VERSION: u32 = \([0-9]*\);/\1/p' src/ffi/abi.rs)
C_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
PKG_CONFIG ?= pkg-config
PYTHON3 ?= python3
CXX ?= g++
PREFIX ?= /usr/local
# The C library: the crate with its `capi` feature, as a shared and a static library (the
# package's own crate type is only the rlib, so that Rust users and the Python extension link
# no C symbols), the shared one with a soname that carries the ABI major version. Add --release
# for the optimized build.
C_LIB_BUILD = $(CARGO) rustc --lib --features capi,c-allocator --crate-type cdylib,staticlib
C_LIB_LINK := -C link-arg=-Wl,-soname,libwsconnector.so.$(C_ABI)
# The C programs find the library through the build tree's pkg-config file.
C_PC := PKG_CONFIG_PATH=$(C_LIBDIR) $(PKG_CONFIG)
C_SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
C_WARN := -Wall -Wextra -Werror -g -O1
C_TESTS := $(patsubst tests/c/%.c,$(C_OUT)/%,$(wildcard tests/c/test_*.c))
C_EXAMPLES := $(patsubst examples/c/%.c,$(C_OUT)/example-%,$(wildcard examples/c/*.c))
# LeakSanitizer is on with no suppressions: the library leaves nothing behind.
C_TEST_ENV := ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 UBSAN_OPTIONS=print_stacktrace=1

test-c: check-header c-tests cpp-test ctypes-test examples-c-self-test

# pkg-config, installed with apt-get only when the machine has none.
$(C_OUT)/.pkg-config:
	@mkdir -p $(C_OUT)
	@command -v $(PKG_CONFIG) >/dev/null 2>&1 || { \
		echo "installing pkg-config"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config >/dev/null; }
	@touch $@

# Builds the library; records where build.rs wrote the header; links the soname; writes the
# build tree's pkg-config file.
c-lib: $(C_OUT)/.pkg-config
	@mkdir -p $(C_OUT)
	$(C_LIB_BUILD) $(if $(RELEASE),--release) --message-format=json-render-diagnostics -- $(C_LIB_LINK) \
		> $(C_OUT)/cargo.json
	@grep '"reason":"build-script-executed"' $(C_OUT)/cargo.json | grep '#wsconnector@' \
		| sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' | tail -n 1 > $(C_OUT)/out_dir
	@test -s $(C_OUT)/out_dir || { echo "cannot find build.rs's OUT_DIR"; exit 1; }
	@ln -sf libwsconnector.so $(C_LIBDIR)/libwsconnector.so.$(C_ABI)
	@sed -e 's|@PREFIX@|$(CURDIR)|; s|@LIBDIR@|$${prefix}/target/$(C_PROFILE)|; s|@INCLUDEDIR@|$${prefix}/include|' \
		-e 's|@VERSION@|$(C_VERSION)|; s|@RPATH@|-Wl,-rpath,$${libdir} |' \
		mk/wsconnector.pc.in > $(C_LIBDIR)/wsconnector.pc

header: c-lib
	cp "$$(cat $(C_OUT)/out_dir)/wsconnector.h" include/wsconnector.h

check-header: c-lib
	@cmp -s "$$(cat $(C_OUT)/out_dir)/wsconnector.h" include/wsconnector.h || { \
		echo "include/wsconnector.h is stale: run 'make header' and commit it"; exit 1; }
	@for part in MAJOR MINOR PATCH; do \
		want=$$(echo $(C_VERSION) | tr . ' ' | awk -v p=$$part '{print (p=="MAJOR")?$$1:(p=="MINOR")?$$2:$$3}'); \
		grep -q "^#define WSC_VERSION_$$part $$want$$" include/wsconnector.h || { \
			echo "WSC_VERSION_$$part in include/wsconnector.h does not match Cargo.toml ($(C_VERSION))"; exit 1; }; \
	done
	@echo "include/wsconnector.h is fresh and matches version $(C_VERSION)"

$(C_OUT)/test_%: tests/c/test_%.c tests/c/testing.h examples/c/chat_rooms.h include/wsconnector.h c-lib
	$(CC) -std=c11 $(C_WARN) $(C_SANITIZE) $$($(C_PC) --cflags wsconnector) $< -o $@ \
		$$($(C_PC) --libs wsconnector) -lpthread

c-tests: c-lib redis-server $(C_TESTS)
	@for t in $(C_TESTS); do \
		echo "== $$t"; \
		$(C_TEST_ENV) timeout 120 $$t || { echo "FAILED: $$t"; echo "c-tests: 0 passed, 1 failed"; exit 1; }; \
	done; echo "c-tests: $(words $(C_TESTS)) passed, 0 failed"

$(C_OUT)/test_wrapper: tests/cpp/test_wrapper.cpp bindings/cpp/wsconnector.hpp include/wsconnector.h c-lib
	$(CXX) -std=c++17 $(C_WARN) $(C_SANITIZE) $$($(C_PC) --cflags wsconnector) -Ibindings/cpp $< -o $@ \
		$$($(C_PC) --libs wsconnector) -lpthread

cpp-test: $(C_OUT)/test_wrapper
	$(C_TEST_ENV) timeout 120 $(C_OUT)/test_wrapper

ctypes-test: c-lib
	timeout 120 $(PYTHON3) tests/ffi/test_ctypes.py $(C_LIBDIR)/libwsconnector.so.$(C_ABI)

$(C_OUT)/example-%: examples/c/%.c examples/c/chat_rooms.h include/wsconnector.h c-lib
	$(CC) -std=c11 $(C_WARN) $$($(C_PC) --cflags wsconnector) $< -o $@ $$($(C_PC) --libs wsconnector)

examples-c: c-lib $(C_EXAMPLES)

# Each example runs a short scenario against itself and exits.
examples-c-self-test: examples-c
	@for e in $(C_EXAMPLES); do timeout 60 $$e --self-test || { echo "FAILED: $$e"; exit 1; }; done

install-c: c-lib
	$(C_LIB_BUILD) --release -- $(C_LIB_LINK)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 target/release/libwsconnector.so $(DESTDIR)$(PREFIX)/lib/libwsconnector.so.$(C_ABI)
	ln -sf libwsconnector.so.$(C_ABI) $(DESTDIR)$(PREFIX)/lib/libwsconnector.so
	install -m 0644 include/wsconnector.h $(DESTDIR)$(PREFIX)/include/wsconnector.h
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$${prefix}/lib|; s|@INCLUDEDIR@|$${prefix}/include|' \
		-e 's|@VERSION@|$(C_VERSION)|; s|@RPATH@||' \
		mk/wsconnector.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/wsconnector.pc
