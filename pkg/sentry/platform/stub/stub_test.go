package stub

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// The image must be an ELF the host loader accepts: one read+execute
// PT_LOAD covering the whole file at Base, entry at Init.
func TestImageIsLoadable(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(Image()))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if f.Type != elf.ET_EXEC || f.Class != elf.ELFCLASS64 || f.Machine != elf.Machine(elfMachine) {
		t.Errorf("type %v class %v machine %v", f.Type, f.Class, f.Machine)
	}
	if f.Entry != uint64(Layout().Init) {
		t.Errorf("entry %#x, want %#x", f.Entry, Layout().Init)
	}
	if len(f.Progs) != 1 {
		t.Fatalf("%d program headers", len(f.Progs))
	}
	p := f.Progs[0]
	if p.Type != elf.PT_LOAD || p.Flags != elf.PF_R|elf.PF_X || p.Off != 0 || p.Vaddr != Base ||
		p.Filesz != uint64(len(image)) || p.Memsz != p.Filesz || p.Align != Size {
		t.Errorf("program header %+v", p.ProgHeader)
	}
	if Base%Size != 0 || len(image) > Size || MaxUserAddress != Base {
		t.Errorf("layout: base %#x size %#x image %#x", Base, Size, len(image))
	}
}

// Every routine lies inside the image, past the headers, and each trap
// address follows its routine's start.
func TestRoutinesInImage(t *testing.T) {
	a := Layout()
	in := func(name string, v uintptr) {
		if v < Base+offSigset || v >= Base+uintptr(len(image)) {
			t.Errorf("%s at %#x outside the code", name, v)
		}
	}
	for _, r := range []struct {
		name        string
		start, trap uintptr
	}{
		{"init", a.Init, a.InitTrap},
		{"syscall", a.Syscall, a.SyscallTrap},
		{"threadClone", a.ThreadClone, a.ThreadCloneTrap},
		{"processClone", a.ProcessClone, a.ProcessCloneTrap},
		{"processChild", a.ProcessClone, a.ProcessChildTrap},
	} {
		in(r.name, r.start)
		in(r.name+"Trap", r.trap)
		if r.trap <= r.start {
			t.Errorf("%s traps at %#x, before its start %#x", r.name, r.trap, r.start)
		}
	}
	in("idle", a.Idle)
	if got := binary.LittleEndian.Uint64(image[offSigset:]); got != ^uint64(0) {
		t.Errorf("signal mask %#x, want all blocked", got)
	}
}
