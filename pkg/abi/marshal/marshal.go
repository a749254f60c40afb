// Package marshal defines how ABI values travel between Go and the byte
// image that an application sees in its memory.
//
// Every ABI struct in appkernel encodes itself with hand-written code that
// writes each field at its C offset. Reflection (encoding/binary.Write and
// friends) is too slow for the syscall path, and copying the Go value's
// memory directly would tie the wire layout to the Go compiler's layout of
// the host architecture.
//
// Both targets, amd64 and arm64, are little-endian, so all encodings here
// are little-endian; a big-endian target would need a second set of
// methods.
package marshal

import "fmt"

// Marshallable is implemented by (pointers to) every fixed-size ABI type.
//
// MarshalBytes and UnmarshalBytes work on the front of the buffer and return
// what follows the value, so a caller can encode consecutive values without
// computing offsets. Both panic if the buffer is shorter than SizeBytes(),
// like a slice index out of range; callers that take lengths from an
// application check them first.
type Marshallable interface {
	// SizeBytes is the size of the value in the application's memory,
	// including any padding the C ABI puts inside or after it.
	SizeBytes() int

	// MarshalBytes writes the value into dst[:SizeBytes()] and returns
	// dst[SizeBytes():]. Padding bytes are written as zero so that no
	// Sentry memory leaks to the application.
	MarshalBytes(dst []byte) []byte

	// UnmarshalBytes fills the value from src[:SizeBytes()] and returns
	// src[SizeBytes():].
	UnmarshalBytes(src []byte) []byte
}

// Marshal returns a new buffer that holds m's encoding.
func Marshal(m Marshallable) []byte {
	buf := make([]byte, m.SizeBytes())
	m.MarshalBytes(buf)
	return buf
}

// Unmarshal decodes m from src, which must be exactly m.SizeBytes() long.
func Unmarshal(m Marshallable, src []byte) error {
	if len(src) != m.SizeBytes() {
		return fmt.Errorf("marshal: %d bytes for a %d-byte %T", len(src), m.SizeBytes(), m)
	}
	m.UnmarshalBytes(src)
	return nil
}

// Ptr constrains a type parameter to pointers to T that are Marshallable, so
// the slice helpers below can work on []T without boxing each element.
type Ptr[T any] interface {
	*T
	Marshallable
}

// MarshalSlice encodes the elements of s one after another into dst and
// returns the rest of dst. Arrays of structs in application memory (iovecs,
// pollfds, epoll events) are laid out this way.
func MarshalSlice[T any, P Ptr[T]](dst []byte, s []T) []byte {
	for i := range s {
		dst = P(&s[i]).MarshalBytes(dst)
	}
	return dst
}

// UnmarshalSlice decodes len(s) consecutive elements from src and returns
// the rest of src.
func UnmarshalSlice[T any, P Ptr[T]](src []byte, s []T) []byte {
	for i := range s {
		src = P(&s[i]).UnmarshalBytes(src)
	}
	return src
}

// SliceSize is the number of bytes MarshalSlice writes for n elements.
func SliceSize[T any, P Ptr[T]](n int) int {
	var v T
	return n * P(&v).SizeBytes()
}
