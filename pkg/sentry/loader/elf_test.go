package loader

import (
	"encoding/binary"
	"os"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestMalformedELF(t *testing.T) {
	good := simpleELF()
	for _, tc := range []struct {
		name string
		mut  func(b []byte) []byte
		want linux.Errno
	}{
		{"ELFCLASS32", func(b []byte) []byte { b[linux.EI_CLASS] = linux.ELFCLASS32; return b }, linux.ENOEXEC},
		{"big endian", func(b []byte) []byte { b[linux.EI_DATA] = linux.ELFDATA2MSB; return b }, linux.ENOEXEC},
		{"ET_REL", func(b []byte) []byte { b[16] = linux.ET_REL; return b }, linux.ENOEXEC},
		{"i386", func(b []byte) []byte { b[18] = linux.EM_386; return b }, linux.ENOEXEC},
		{"phentsize", func(b []byte) []byte { b[54] = 32; return b }, linux.ENOEXEC},
		{"phnum 0", func(b []byte) []byte { b[56] = 0; return b }, linux.ENOEXEC},
		{"phnum 74", func(b []byte) []byte { b[56] = 74; return b }, linux.ENOEXEC},
		{"phoff past EOF", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[32:], 1<<63); return b }, linux.ENOEXEC},
		{"truncated header", func(b []byte) []byte { return b[:40] }, linux.ENOEXEC},
		{"truncated phdrs", func(b []byte) []byte { return b[:100] }, linux.ENOEXEC},
		{"truncated segment", func(b []byte) []byte { return b[:2*page+0x80] }, linux.ENOEXEC},
		{"filesz > memsz", func(b []byte) []byte { setPhdr(b, 1, func(p *linux.ElfProg64) { p.Memsz = 0x10 }); return b }, linux.EINVAL},
		{"not congruent", func(b []byte) []byte { setPhdr(b, 1, func(p *linux.ElfProg64) { p.Vaddr += 8 }); return b }, linux.EINVAL},
		{"beyond task size", func(b []byte) []byte { setPhdr(b, 1, func(p *linux.ElfProg64) { p.Vaddr = 1 << 47 }); return b }, linux.EINVAL},
		{"memsz wraps", func(b []byte) []byte {
			setPhdr(b, 1, func(p *linux.ElfProg64) { p.Memsz = ^uint64(0) - 0x1000 })
			return b
		}, linux.EINVAL},
		{"offset wraps", func(b []byte) []byte {
			setPhdr(b, 1, func(p *linux.ElfProg64) { p.Off = ^uint64(0) - 0xfff })
			return b
		}, linux.ENOEXEC},
		{"unsorted", func(b []byte) []byte {
			setPhdr(b, 1, func(p *linux.ElfProg64) { p.Vaddr, p.Off = 0x200000, 0 })
			return b
		}, linux.ENOEXEC},
		{"overlap", func(b []byte) []byte { setPhdr(b, 1, func(p *linux.ElfProg64) { p.Vaddr = 0x401000 }); return b }, linux.ENOEXEC},
		{"no PT_LOAD", func(b []byte) []byte {
			setPhdr(b, 0, func(p *linux.ElfProg64) { p.Type = linux.PT_NOTE })
			setPhdr(b, 1, func(p *linux.ElfProg64) { p.Type = linux.PT_NOTE })
			return b
		}, linux.ENOEXEC},
		{"entry outside", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[24:], 1<<60); return b }, linux.EINVAL},
		{"interp not terminated", func(b []byte) []byte {
			setPhdr(b, 2, func(p *linux.ElfProg64) { *p = linux.ElfProg64{Type: linux.PT_INTERP, Off: page, Filesz: 8} })
			return b
		}, linux.ENOEXEC},
		{"interp too long", func(b []byte) []byte {
			setPhdr(b, 2, func(p *linux.ElfProg64) { *p = linux.ElfProg64{Type: linux.PT_INTERP, Off: 0, Filesz: 5000} })
			return b
		}, linux.ENOEXEC},
		{"interp missing", func(b []byte) []byte {
			copy(b[page:], "/nope\x00")
			setPhdr(b, 2, func(p *linux.ElfProg64) { *p = linux.ElfProg64{Type: linux.PT_INTERP, Off: page, Filesz: 6} })
			return b
		}, linux.ENOENT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mut(good.bytes())
			_, err := load(baseArgs(newMemFile(b), newFakeMM(), mapOpener{}), &amd64Params)
			wantErrno(t, err, tc.want)
		})
	}
	if _, err := load(baseArgs(newMemFile(good.bytes()), newFakeMM(), mapOpener{}), &amd64Params); err != nil {
		t.Fatalf("unmodified file: %v", err)
	}
}

func setPhdr(b []byte, i int, f func(*linux.ElfProg64)) {
	off := linux.SizeofElfHeader64 + i*linux.SizeofElfProg64
	var p linux.ElfProg64
	p.UnmarshalBytes(b[off:])
	f(&p)
	p.MarshalBytes(b[off:])
}

// dynWithInterp is a PIE naming /ld as its interpreter.
func dynWithInterp() []byte {
	e := simpleELF()
	e.typ = linux.ET_DYN
	e.entry = 0x1000
	e.phdrs[0].Vaddr = 0
	e.phdrs[1].Vaddr = 0x202000
	e.phdrs = append(e.phdrs, linux.ElfProg64{Type: linux.PT_INTERP, Off: 3 * page, Filesz: 4})
	e.body = append(e.body, []byte("/ld\x00")...)
	return e.bytes()
}

func interpELF() testELF {
	e := simpleELF()
	e.typ = linux.ET_DYN
	e.entry = 0x1234
	e.phdrs[0].Vaddr = 0
	e.phdrs[1].Vaddr = 0x202000
	return e
}

func TestInterpreter(t *testing.T) {
	mm := newFakeMM()
	o := mapOpener{"/ld": newMemFile(interpELF().bytes())}
	res, err := load(baseArgs(newMemFile(dynWithInterp()), mm, o), &amd64Params)
	if err != nil {
		t.Fatal(err)
	}
	bias := amd64Params.etDynBase(amd64Params.taskSize)
	if bias != 0x555555554000 || res.Entry != bias+0x1000 {
		t.Errorf("PIE bias: entry %#x, want %#x", res.Entry, bias+0x1000)
	}
	if res.Base == 0 || res.Base%page != 0 || res.Regs.PC != res.Base+0x1234 {
		t.Errorf("interp base %#x pc %#x", res.Base, res.Regs.PC)
	}
	// Interpreter bss zeroed at its bias.
	b, _ := mm.read(res.Base+0x202100, 8)
	if string(b) != "\x00\x00\x00\x00\x00\x00\x00\x00" {
		t.Errorf("interpreter bss tail %x", b)
	}

	bad := func(f []byte) error {
		o := mapOpener{"/ld": newMemFile(f)}
		_, err := load(baseArgs(newMemFile(dynWithInterp()), newFakeMM(), o), &amd64Params)
		return err
	}
	wantErrno(t, bad([]byte("#!/bin/sh\n")), linux.ELIBBAD)
	arm := interpELF()
	arm.machine = linux.EM_AARCH64
	wantErrno(t, bad(arm.bytes()), linux.ELIBBAD)
	wantErrno(t, bad(interpELF().bytes()[:200]), linux.ELIBBAD)
	wantErrno(t, bad(dynWithInterp()), linux.ELIBBAD)
	nc := interpELF().bytes()
	setPhdr(nc, 1, func(p *linux.ElfProg64) { p.Vaddr += 8 })
	wantErrno(t, bad(nc), linux.EINVAL)

	o2 := mapOpener{"/ld": &memFile{data: interpELF().bytes(), mode: linux.S_IFCHR}}
	_, err = load(baseArgs(newMemFile(dynWithInterp()), newFakeMM(), o2), &amd64Params)
	wantErrno(t, err, linux.EACCES)
}

// TestPIEAlignment: a p_align above the page size aligns the load bias.
func TestPIEAlignment(t *testing.T) {
	e := interpELF()
	e.phdrs[0].Align = 1 << 21
	e.phdrs[1].Vaddr = 0x402000
	mm := newFakeMM()
	args := baseArgs(newMemFile(e.bytes()), mm, nil)
	args.Layout.Randomize = true
	res, err := load(args, &amd64Params)
	if err != nil {
		t.Fatal(err)
	}
	if bias := res.Entry - 0x1234; bias%(1<<21) != 0 {
		t.Errorf("static PIE bias %#x not 2 MiB aligned", bias)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(simpleELF().bytes())
	f.Add(dynWithInterp())
	f.Add(interpELF().bytes())
	f.Add([]byte("#!/ld arg\n"))
	f.Add([]byte("#!/self\n"))
	if b, err := os.ReadFile("/bin/true"); err == nil && len(b) < 1<<20 {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mm := newFakeMM()
		o := mapOpener{"/ld": newMemFile(interpELF().bytes()), "/self": newMemFile(data)}
		args := baseArgs(newMemFile(data), mm, o)
		args.Layout.Randomize = len(data)%2 == 0
		res, err := load(args, &amd64Params)
		if mm.copied > 64<<20 {
			t.Fatalf("materialised %d bytes for a %d-byte file", mm.copied, len(data))
		}
		if err != nil {
			var e linux.Errno
			if !errorsAs(err, &e) {
				t.Fatalf("error without errno: %v", err)
			}
			return
		}
		if res.Regs.SP%16 != 0 {
			t.Fatalf("sp %#x", res.Regs.SP)
		}
		decodeStack(t, mm, res.Regs.SP)
	})
}
