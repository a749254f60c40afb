package pgalloc

import "unsafe"

// unsafePointer returns the address of b[off], which may be one past the
// end of b's length (but not of its capacity) when off == len(b).
func unsafePointer(b []byte, off uint64) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), off)
}
