package vdso

import "unsafe"

// unsafeBytes views an aligned word array as bytes, as the memory file's
// page-aligned slices are.
func unsafeBytes(w []uint64) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), 8*len(w)) }
