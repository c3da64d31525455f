#!/bin/sh
# The C ABI guard: the exported wsc_ symbols of the built library against the checked-in list
# include/wsconnector.symbols, whose first line records the ABI version they belong to.
#   symbols.sh check  LIB ABI   fails when the library exports other symbols than the list, when
#                               the list is of another ABI version, or when the soname is not
#                               libwsconnector.so.ABI
#   symbols.sh update LIB ABI   rewrites the list; refuses to drop or rename a symbol unless ABI
#                               (WSC_ABI_VERSION in src/ffi/abi.rs) is newer than the list's
set -eu
mode=$1 lib=$2 abi=$3
list=include/wsconnector.symbols
built=$(mktemp) listed=$(mktemp)
trap 'rm -f "$built" "$listed"' EXIT

nm -D --defined-only "$lib" | awk '$3 ~ /^wsc_/ {print $3}' | LC_ALL=C sort -u > "$built"
list_abi=$(sed -n '1s/^# wsconnector C ABI \([0-9]*\)$/\1/p' "$list" 2>/dev/null || true)
grep -v '^#' "$list" 2>/dev/null | LC_ALL=C sort -u > "$listed" || true
removed=$(LC_ALL=C comm -23 "$listed" "$built")
added=$(LC_ALL=C comm -13 "$listed" "$built")

case $mode in
check)
    status=0
    if [ "$list_abi" != "$abi" ]; then
        echo "$list records ABI ${list_abi:-none}, src/ffi/abi.rs says $abi: run 'make abi-symbols'"
        status=1
    fi
    if [ -n "$removed" ]; then
        echo "symbols in $list that $lib no longer exports (an ABI break: bump WSC_ABI_VERSION in"
        echo "src/ffi/abi.rs, then run 'make abi-symbols'):"
        echo "$removed" | sed 's/^/  - /'
        status=1
    fi
    if [ -n "$added" ]; then
        echo "new symbols that $list does not list yet (run 'make abi-symbols' and commit it):"
        echo "$added" | sed 's/^/  + /'
        status=1
    fi
    soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
    if [ "$soname" != "libwsconnector.so.$abi" ]; then
        echo "$lib has soname '$soname', not libwsconnector.so.$abi"
        status=1
    fi
    [ $status -ne 0 ] || echo "C ABI $abi: $(wc -l < "$built") exported symbols match $list"
    exit $status
    ;;
update)
    if [ -n "$removed" ] && [ "$list_abi" = "$abi" ]; then
        echo "refusing to drop symbols from $list without an ABI version bump:"
        echo "$removed" | sed 's/^/  - /'
        echo "removing or renaming an exported function breaks every program linked against it:"
        echo "bump WSC_ABI_VERSION in src/ffi/abi.rs (the soname follows), then run this again"
        exit 1
    fi
    { echo "# wsconnector C ABI $abi"; cat "$built"; } > "$list"
    echo "$list: $(wc -l < "$built") symbols of ABI $abi"
    ;;
*)
    echo "usage: $0 check|update LIB ABI" >&2
    exit 2
    ;;
esac
