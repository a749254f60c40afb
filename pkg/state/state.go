package state

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
)

// Savable is implemented by the methods tools/stateify generates, always on
// the pointer type.
type Savable interface {
	// StateTypeName is the type's stable name in streams:
	// "<import path>.<Name>".
	StateTypeName() string
	// StateFields names the saved fields in the order StateSave writes them;
	// Load compares it with the stream to detect changed types.
	StateFields() []string
	// StateSave writes the value, starting with Sink.Begin.
	StateSave(*Sink)
	// StateLoad reads what StateSave wrote, starting with Source.Begin.
	StateLoad(*Source)
}

const (
	// Version is the stream format version this build writes and reads.
	Version = 1

	magic = "AKSTATE\n"

	// MaxLength caps any length read from a stream: strings, byte slices,
	// element counts.
	MaxLength = 1 << 32
	// MaxDepth caps how deeply values may nest inside one object (through
	// slices, maps and interface values); pointers do not count, since
	// objects are read one after another.
	MaxDepth = 10000
)

var (
	// ErrBadMagic means the input is not a state stream at all.
	ErrBadMagic = errors.New("state: not a state stream (bad magic)")
	// ErrCorrupt wraps every error about malformed or truncated input.
	ErrCorrupt = errors.New("state: corrupt stream")
	// ErrTypeMismatch means the stream was written by a build whose types
	// differ from this one's.
	ErrTypeMismatch = errors.New("state: saved type does not match")
	// ErrUnsupported wraps Save errors about values the format cannot hold.
	ErrUnsupported = errors.New("state: cannot save")
)

// VersionError reports a stream written in another format version.
type VersionError struct {
	Got, Want uint64
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("state: format version %d, this build reads %d", e.Got, e.Want)
}

// failure carries an error out of generated code, which has no error results
// to thread it through; Save and Load recover it at the top.
type failure struct{ err error }

func recoverFailure(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(failure)
		if !ok {
			panic(r)
		}
		*err = f.err
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes root and every object reachable from it to w. root must be a
// non-nil pointer. The graph must not change while Save runs (the kernel is
// paused for a checkpoint). Save does not close w.
func Save(w io.Writer, root Savable) (err error) {
	rv := reflect.ValueOf(root)
	if root == nil || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: root must be a non-nil pointer, got %T", ErrUnsupported, root)
	}
	s := newSink(w)
	defer recoverFailure(&err)

	s.w.WriteString(magic)
	s.uvarint(Version)
	if id, _ := s.reference(rv.UnsafePointer(), rv.Type().Elem()); id != 1 {
		panic("state: root is not object 1")
	}
	s.objects[0].save = func() { root.StateSave(s) }
	for i := 0; i < len(s.objects); i++ {
		save := s.objects[i].save
		s.objects[i].save = nil // let the closure's captures go
		save()
		if s.out.err != nil {
			return fmt.Errorf("state: writing: %w", s.out.err)
		}
	}
	if err := s.checkInteriorPointers(); err != nil {
		return err
	}
	s.uvarint(uint64(len(s.objects)))
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("state: writing: %w", err)
	}
	var sum [4]byte
	putCRC(sum[:], s.out.crc)
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("state: writing: %w", err)
	}
	return nil
}

// Load reads a stream written by Save into root, which should point to a
// zero value of the type Save was given. After the whole graph is read and
// the checksum verified, Load runs the afterLoad hooks in the order the
// values were read. Load buffers its input and may consume bytes past the
// end of the stream, so data that follows a stream needs its own framing
// (an io.SectionReader, a length prefix).
func Load(r io.Reader, root Savable) (err error) {
	rv := reflect.ValueOf(root)
	if root == nil || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("state: Load: root must be a non-nil pointer, got %T", root)
	}
	s := newSource(r)
	defer recoverFailure(&err)

	var m [len(magic)]byte
	s.in.readFull(m[:])
	if string(m[:]) != magic {
		return ErrBadMagic
	}
	if v := s.uvarint(); v != Version {
		return &VersionError{Got: v, Want: Version}
	}
	s.objects = append(s.objects, loadSlot{obj: root, typ: rv.Type().Elem(), load: func() { root.StateLoad(s) }})
	for i := 0; i < len(s.objects); i++ {
		load := s.objects[i].load
		s.objects[i].load = nil
		load()
	}
	if n := s.uvarint(); n != uint64(len(s.objects)) {
		s.corrupt("trailer counts %d objects, read %d", n, len(s.objects))
	}
	want := s.in.sum()
	var sum [4]byte
	s.in.readFull(sum[:])
	if got := getCRC(sum[:]); got != want {
		s.corrupt("checksum %08x, computed %08x", got, want)
	}
	for _, h := range s.hooks {
		h.run(h.addr)
	}
	return nil
}

func putCRC(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func getCRC(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
