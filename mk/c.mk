# The C API: header freshness, C and C++ tests under AddressSanitizer, FFI loading.
.PHONY: test-c
test-c:
	@echo "test-c: no C API yet"
