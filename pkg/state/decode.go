package state

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"unsafe"
)

// Source is the reading side handed to generated StateLoad methods. Its
// methods read one value each; errors abort the whole Load.
type Source struct {
	in      reader
	types   []*typeDef
	objects []loadSlot
	hooks   []afterLoadHook

	depth int
	// idle counts collection elements that consumed no input (zero-length
	// arrays), the only way a short stream could make Load spin.
	idle int
}

type typeDef struct {
	name   string
	fields []string
	// checked is set once fields have been compared with the local type.
	checked bool
}

type loadSlot struct {
	obj  any          // a *T, allocated at the first reference
	typ  reflect.Type // T, for error messages
	load func()       // nil once read
}

type afterLoadHook struct {
	addr unsafe.Pointer
	run  func(unsafe.Pointer)
}

const maxIdle = 1 << 20

func newSource(r io.Reader) *Source {
	return &Source{in: reader{src: r, buf: make([]byte, 0, 64<<10)}}
}

func (s *Source) corrupt(format string, args ...any) {
	panic(failure{fmt.Errorf("%w at offset %d: %s", ErrCorrupt, s.in.offset(), fmt.Sprintf(format, args...))})
}

func (s *Source) mismatch(format string, args ...any) {
	panic(failure{fmt.Errorf("%w: %s", ErrTypeMismatch, fmt.Sprintf(format, args...))})
}

// reader buffers the input, tracks the offset for error messages and
// checksums exactly the bytes consumed (not the read-ahead).
type reader struct {
	src    io.Reader
	buf    []byte
	pos    int   // next unread byte in buf
	hashed int   // buf[:hashed] is already in crc
	base   int64 // stream offset of buf[0]
	crc    uint32
}

func (r *reader) offset() int64 { return r.base + int64(r.pos) }

func (r *reader) sum() uint32 {
	r.crc = crc32.Update(r.crc, castagnoli, r.buf[r.hashed:r.pos])
	r.hashed = r.pos
	return r.crc
}

// fill makes at least one more byte available or fails.
func (r *reader) fill() {
	r.sum()
	n := copy(r.buf[:cap(r.buf)], r.buf[r.pos:])
	r.base += int64(r.pos)
	r.buf, r.pos, r.hashed = r.buf[:n], 0, 0
	for tries := 0; len(r.buf) == n; tries++ {
		m, err := r.src.Read(r.buf[n:cap(r.buf)])
		r.buf = r.buf[:n+m]
		if m > 0 {
			return
		}
		switch {
		case err == io.EOF:
			panic(failure{fmt.Errorf("%w at offset %d: %w", ErrCorrupt, r.offset(), io.ErrUnexpectedEOF)})
		case err != nil:
			panic(failure{fmt.Errorf("state: reading at offset %d: %w", r.offset(), err)})
		case tries > 100:
			panic(failure{fmt.Errorf("state: reading at offset %d: %w", r.offset(), io.ErrNoProgress)})
		}
	}
}

func (r *reader) readByte() byte {
	if r.pos == len(r.buf) {
		r.fill()
	}
	b := r.buf[r.pos]
	r.pos++
	return b
}

func (r *reader) readFull(p []byte) {
	for len(p) > 0 {
		if r.pos == len(r.buf) {
			r.fill()
		}
		n := copy(p, r.buf[r.pos:])
		r.pos += n
		p = p[n:]
	}
}

func (s *Source) uvarint() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		b := s.in.readByte()
		if shift == 63 && b > 1 {
			s.corrupt("varint overflows 64 bits")
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
	}
}

// length reads a length written as 0 for nil or n+1; ok is false for nil.
func (s *Source) length() (n int, ok bool) {
	v := s.uvarint()
	if v == 0 {
		return 0, false
	}
	if v-1 > MaxLength || v-1 > math.MaxInt {
		s.corrupt("length %d exceeds the limit", v-1)
	}
	return int(v - 1), true
}

func (s *Source) enter() {
	if s.depth++; s.depth > MaxDepth {
		s.corrupt("values nest deeper than %d", MaxDepth)
	}
}

func (s *Source) leave() { s.depth-- }

// progress is called after each collection element read from offset start.
func (s *Source) progress(start int64) {
	if s.in.offset() == start {
		if s.idle++; s.idle > maxIdle {
			s.corrupt("too many empty elements")
		}
	}
}

// Begin starts a savable value: it reads the type reference and checks it
// against v's type.
func (s *Source) Begin(v Savable) {
	def := s.typeRef()
	s.check(def, v.StateTypeName(), v.StateFields)
}

func (s *Source) typeRef() *typeDef {
	id := s.uvarint()
	switch {
	case id >= 1 && id <= uint64(len(s.types)):
		return s.types[id-1]
	case id == uint64(len(s.types))+1:
		def := &typeDef{name: s.String()}
		n := s.uvarint()
		if n > 1<<16 {
			s.corrupt("type %q has %d fields", def.name, n)
		}
		for range n {
			def.fields = append(def.fields, s.String())
		}
		s.types = append(s.types, def)
		return def
	}
	s.corrupt("type id %d is not defined", id)
	return nil
}

// check verifies that the stream's type def is the local type name.
func (s *Source) check(def *typeDef, name string, fields func() []string) {
	if def.name != name {
		s.mismatch("stream has a %s where this build expects a %s", def.name, name)
	}
	if def.checked {
		return
	}
	local := fields()
	if !slices.Equal(def.fields, local) {
		s.mismatch("type %s changed since it was saved: %s", name, describeFieldChange(def.fields, local))
	}
	def.checked = true
}

func describeFieldChange(saved, local []string) string {
	for _, f := range local {
		if !slices.Contains(saved, f) {
			return fmt.Sprintf("field %q was added", f)
		}
	}
	for _, f := range saved {
		if !slices.Contains(local, f) {
			return fmt.Sprintf("field %q was removed", f)
		}
	}
	return fmt.Sprintf("fields were reordered (saved %q, now %q)", saved, local)
}

// Bool reads a bool.
func (s *Source) Bool() bool {
	switch b := s.in.readByte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		s.corrupt("bool byte %#x", b)
		return false
	}
}

// Int reads a signed integer that must fit in the given number of bits; 0
// means the size of int.
func (s *Source) Int(width int) int64 {
	u := s.uvarint()
	v := int64(u>>1) ^ -int64(u&1)
	if width == 0 {
		width = bits.UintSize
	}
	if width < 64 {
		if lim := int64(1) << (width - 1); v < -lim || v >= lim {
			s.corrupt("integer %d overflows int%d", v, width)
		}
	}
	return v
}

// Uint reads an unsigned integer that must fit in the given number of bits;
// 0 means the size of uint.
func (s *Source) Uint(width int) uint64 {
	v := s.uvarint()
	if width == 0 {
		width = bits.UintSize
	}
	if width < 64 && v>>width != 0 {
		s.corrupt("integer %d overflows uint%d", v, width)
	}
	return v
}

// Float32 reads a float32.
func (s *Source) Float32() float32 {
	var b [4]byte
	s.in.readFull(b[:])
	return math.Float32frombits(binary.LittleEndian.Uint32(b[:]))
}

// Float64 reads a float64.
func (s *Source) Float64() float64 {
	var b [8]byte
	s.in.readFull(b[:])
	return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
}

// Complex64 reads a complex64.
func (s *Source) Complex64() complex64 {
	re := s.Float32()
	return complex(re, s.Float32())
}

// Complex128 reads a complex128.
func (s *Source) Complex128() complex128 {
	re := s.Float64()
	return complex(re, s.Float64())
}

// String reads a string.
func (s *Source) String() string {
	n := s.uvarint()
	if n > MaxLength {
		s.corrupt("string length %d exceeds the limit", n)
	}
	b := s.bytes(int(n))
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Bytes reads a byte slice written by Sink.Bytes.
func (s *Source) Bytes() []byte {
	n, ok := s.length()
	if !ok {
		return nil
	}
	return s.bytes(n)
}

// ByteArray fills a byte array written by Sink.ByteArray.
func (s *Source) ByteArray(v []byte) { s.in.readFull(v) }

// bytes reads n bytes, growing the buffer as data arrives so that a bogus
// length in a short stream cannot allocate much more than the stream holds.
func (s *Source) bytes(n int) []byte {
	const chunk = 64 << 10
	if n <= chunk {
		b := make([]byte, n)
		s.in.readFull(b)
		return b
	}
	b := make([]byte, 0, chunk)
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(n-len(b), cap(b)))
		}
		next := min(n, cap(b))
		s.in.readFull(b[len(b):next])
		b = b[:next]
	}
	return b
}

// afterLoad queues a hook to run once the whole graph is read.
func (s *Source) afterLoad(addr unsafe.Pointer, run func(unsafe.Pointer)) {
	s.hooks = append(s.hooks, afterLoadHook{addr, run})
}

// rebaseHooks follows a collection whose backing array moved while it was
// being read, so that hooks run on the elements where they finally live.
func (s *Source) rebaseHooks(from int, oldBase unsafe.Pointer, size uintptr, newBase unsafe.Pointer) {
	lo := uintptr(oldBase)
	for i := from; i < len(s.hooks); i++ {
		h := &s.hooks[i]
		if a := uintptr(h.addr); a >= lo && a < lo+size {
			h.addr = unsafe.Add(newBase, a-lo)
		}
	}
}

// noHooksSince fails if a value that is about to be copied (into a map or
// an interface) registered afterLoad hooks, which would run on the copy.
func (s *Source) noHooksSince(n int, where string) {
	if len(s.hooks) != n {
		panic(failure{fmt.Errorf("%w: a value with an afterLoad hook is stored directly in %s; store a pointer to it instead",
			ErrUnsupported, where)})
	}
}
