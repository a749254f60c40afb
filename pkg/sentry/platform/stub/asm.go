package stub

import (
	"encoding/binary"
	"fmt"
)

// asm is a minimal assembler buffer: raw instruction bytes placed at fixed
// offsets of the stub page, plus label fixups that the per-arch encoders
// resolve once every label is known.
type asm struct {
	buf    []byte
	pos    int
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at    int    // offset of the instruction (or field) to patch
	label string // its target
	patch func(b []byte, at, target int)
}

func newAsm(fill byte) *asm {
	a := &asm{buf: make([]byte, imageSize), labels: map[string]int{}}
	for i := range a.buf {
		a.buf[i] = fill
	}
	return a
}

// org moves the write position to off, which must not go backwards.
func (a *asm) org(off int) {
	if off < a.pos {
		panic(fmt.Sprintf("stub: routine overflows into offset %#x (at %#x)", off, a.pos))
	}
	a.pos = off
}

func (a *asm) label(name string) { a.labels[name] = a.pos }

func (a *asm) bytes(b ...byte) {
	copy(a.buf[a.pos:], b)
	a.pos += len(b)
}

func (a *asm) u32(v uint32) {
	binary.LittleEndian.PutUint32(a.buf[a.pos:], v)
	a.pos += 4
}

func (a *asm) u64(v uint64) {
	binary.LittleEndian.PutUint64(a.buf[a.pos:], v)
	a.pos += 8
}

// ref records that the bytes at the current position refer to label; the
// caller then emits placeholder bytes.
func (a *asm) ref(label string, at int, patch func(b []byte, at, target int)) {
	a.fixups = append(a.fixups, fixup{at: at, label: label, patch: patch})
}

// addr is the run-time address of the current position.
func (a *asm) addr(label string) uintptr {
	off, ok := a.labels[label]
	if !ok {
		panic("stub: undefined label " + label)
	}
	return Base + uintptr(off)
}

func (a *asm) finish() []byte {
	for _, f := range a.fixups {
		target, ok := a.labels[f.label]
		if !ok {
			panic("stub: undefined label " + f.label)
		}
		f.patch(a.buf, f.at, target)
	}
	return a.buf
}
