# The C ABI guard: include/wsconnector.symbols lists the exported wsc_ symbols (nm -D) of the
# ABI version on its first line; the check compares it with the built library and its soname.
#   make test-abi      fails when a symbol was added, removed or renamed without the list, or
#                      when the list, src/ffi/abi.rs and the soname disagree on the ABI version
#   make abi-symbols   rewrites the list from the built library; dropping or renaming a symbol
#                      is refused until WSC_ABI_VERSION in src/ffi/abi.rs is bumped
.PHONY: test-abi abi-symbols

test-abi: c-lib
	tests/abi/symbols.sh check $(C_LIBDIR)/libwsconnector.so $(C_ABI)

abi-symbols: c-lib
	tests/abi/symbols.sh update $(C_LIBDIR)/libwsconnector.so $(C_ABI)
