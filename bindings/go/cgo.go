package wsconnector

// Helpers at the cgo boundary: the pkg-config link, C string arrays, and calls whose error
// message is read on the thread that made them.

/*
#cgo pkg-config: wsconnector
#include <stdlib.h>
#include <wsconnector.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// call runs a C call and, when it fails, reads its thread-local message on the same OS thread.
func call(f func() C.wsc_result) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if result := f(); result != C.WSC_OK {
		return errorOf(result)
	}
	return nil
}

// cStringArray is a C array of C strings, allocated with malloc (C memory, as cgo's pointer
// rules want for an array of pointers).
type cStringArray []*C.char

func cStrings(items []string) cStringArray {
	if len(items) == 0 {
		return nil
	}
	array := (*[1 << 28]*C.char)(C.malloc(C.size_t(len(items)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:len(items):len(items)]
	for i, item := range items {
		array[i] = C.CString(item)
	}
	return array
}

// ptr is the array as the C API takes it (NULL when empty).
func (a cStringArray) ptr() **C.char {
	if len(a) == 0 {
		return nil
	}
	return &a[0]
}

func (a cStringArray) free() {
	for _, s := range a {
		C.free(unsafe.Pointer(s))
	}
	if len(a) > 0 {
		C.free(unsafe.Pointer(&a[0]))
	}
}

// cBytes is the address of a Go byte slice for the duration of a C call (NULL when empty).
func cBytes(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// goString copies a borrowed wsc_str; absent (NULL) becomes "".
func goString(s C.wsc_str) string {
	if s.data == nil {
		return ""
	}
	return C.GoStringN(s.data, C.int(s.len))
}

// goBytes copies a borrowed wsc_bytes; absent (NULL) becomes nil.
func goBytes(b C.wsc_bytes) []byte {
	if b.data == nil {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(b.data), C.int(b.len))
}
