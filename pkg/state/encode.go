package state

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"reflect"
	"slices"
	"unsafe"
)

// Sink is the writing side handed to generated StateSave methods. Its
// methods write one value each; errors abort the whole Save.
type Sink struct {
	out   *crcWriter
	w     *bufio.Writer
	types map[string]uint64 // type name -> id in the stream

	// byKey finds the object for a pointer. The key includes the pointee
	// type because distinct zero-sized values may share an address.
	byKey   map[objectKey]uint64
	objects []saveSlot
}

type objectKey struct {
	addr unsafe.Pointer // keeps the pointee alive while it is queued
	typ  reflect.Type
}

type saveSlot struct {
	key  objectKey
	save func() // nil once written
}

// crcWriter sums what reaches the destination and remembers the first error
// so Save can stop early on a broken writer.
type crcWriter struct {
	w   io.Writer
	crc uint32
	err error
}

func (c *crcWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.err = err
	return n, err
}

func newSink(w io.Writer) *Sink {
	out := &crcWriter{w: w}
	return &Sink{
		out:   out,
		w:     bufio.NewWriterSize(out, 64<<10),
		types: make(map[string]uint64),
		byKey: make(map[objectKey]uint64),
	}
}

func (s *Sink) fail(format string, args ...any) {
	panic(failure{fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)})
}

// Write errors are sticky in bufio.Writer and surface through crcWriter.err
// after each object, so the individual writes ignore them.

func (s *Sink) uvarint(v uint64) {
	for v >= 0x80 {
		s.w.WriteByte(byte(v) | 0x80)
		v >>= 7
	}
	s.w.WriteByte(byte(v))
}

// Begin starts a savable value by writing a reference to its type, defining
// the type at its first use.
func (s *Sink) Begin(v Savable) {
	s.typeRef(v.StateTypeName(), v.StateFields)
}

func (s *Sink) typeRef(name string, fields func() []string) {
	if id, ok := s.types[name]; ok {
		s.uvarint(id)
		return
	}
	id := uint64(len(s.types) + 1)
	s.types[name] = id
	s.uvarint(id)
	s.String(name)
	f := fields()
	s.uvarint(uint64(len(f)))
	for _, name := range f {
		s.String(name)
	}
}

// Bool writes a bool.
func (s *Sink) Bool(v bool) {
	if v {
		s.w.WriteByte(1)
	} else {
		s.w.WriteByte(0)
	}
}

// Int writes any signed integer.
func (s *Sink) Int(v int64) {
	s.uvarint(uint64(v<<1) ^ uint64(v>>63))
}

// Uint writes any unsigned integer.
func (s *Sink) Uint(v uint64) { s.uvarint(v) }

// Float32 writes a float32.
func (s *Sink) Float32(v float32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
	s.w.Write(b[:])
}

// Float64 writes a float64.
func (s *Sink) Float64(v float64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
	s.w.Write(b[:])
}

// Complex64 writes a complex64.
func (s *Sink) Complex64(v complex64) {
	s.Float32(real(v))
	s.Float32(imag(v))
}

// Complex128 writes a complex128.
func (s *Sink) Complex128(v complex128) {
	s.Float64(real(v))
	s.Float64(imag(v))
}

// String writes a string.
func (s *Sink) String(v string) {
	s.uvarint(uint64(len(v)))
	s.w.WriteString(v)
}

// Bytes writes a byte slice, keeping nil distinct from empty.
func (s *Sink) Bytes(v []byte) {
	if v == nil {
		s.uvarint(0)
		return
	}
	s.uvarint(uint64(len(v)) + 1)
	s.w.Write(v)
}

// ByteArray writes the contents of a byte array; the reader knows its length.
func (s *Sink) ByteArray(v []byte) { s.w.Write(v) }

// reference returns the object id for the pointee at addr, and whether it is
// new, in which case the caller must set its save function.
func (s *Sink) reference(addr unsafe.Pointer, typ reflect.Type) (uint64, bool) {
	key := objectKey{addr, typ}
	if id, ok := s.byKey[key]; ok {
		return id, false
	}
	s.objects = append(s.objects, saveSlot{key: key})
	id := uint64(len(s.objects))
	s.byKey[key] = id
	return id, true
}

// checkInteriorPointers fails if one saved object lies inside another: the
// reader would allocate them separately and the aliasing would be lost.
func (s *Sink) checkInteriorPointers() error {
	type extent struct {
		start, end uintptr
		typ        reflect.Type
	}
	var ext []extent
	for _, o := range s.objects {
		if size := o.key.typ.Size(); size > 0 {
			start := uintptr(o.key.addr)
			ext = append(ext, extent{start, start + size, o.key.typ})
		}
	}
	slices.SortFunc(ext, func(a, b extent) int {
		if a.start != b.start {
			return cmpUintptr(a.start, b.start)
		}
		return cmpUintptr(b.end, a.end) // the enclosing object first
	})
	for i := 1; i < len(ext); i++ {
		if outer, inner := ext[i-1], ext[i]; inner.start < outer.end {
			return fmt.Errorf("%w: a pointer to %v points inside an object of type %v; pointers to fields or array elements of saved objects are not supported",
				ErrUnsupported, inner.typ, outer.typ)
		}
	}
	return nil
}

func cmpUintptr(a, b uintptr) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
