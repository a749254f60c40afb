package vdso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

var exported = []string{
	"__vdso_clock_gettime", "clock_gettime",
	"__vdso_gettimeofday", "gettimeofday",
	"__vdso_time", "time",
	"__vdso_clock_getres", "clock_getres",
	"__vdso_getcpu", "getcpu",
}

func x86Image(t *testing.T) []byte {
	t.Helper()
	return buildOnce()
}

// TestImageParses checks the image with debug/elf: an ET_DYN for x86-64,
// one R+X PT_LOAD from offset 0 covering the file, a PT_DYNAMIC, and every
// symbol a versioned function in .text.
func TestImageParses(t *testing.T) {
	img := x86Image(t)
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		t.Fatalf("type %v machine %v class %v", f.Type, f.Machine, f.Class)
	}
	var load, dyn *elf.Prog
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			if load != nil {
				t.Fatal("two PT_LOADs")
			}
			load = p
		case elf.PT_DYNAMIC:
			dyn = p
		}
	}
	if load == nil || dyn == nil {
		t.Fatal("missing PT_LOAD or PT_DYNAMIC")
	}
	if load.Off != 0 || load.Vaddr != 0 || load.Filesz != uint64(len(img)) || load.Flags != elf.PF_R|elf.PF_X {
		t.Errorf("PT_LOAD %+v", load.ProgHeader)
	}
	if dyn.Flags&elf.PF_W != 0 {
		t.Error("PT_DYNAMIC writable")
	}
	sonames, err := f.DynString(elf.DT_SONAME)
	if err != nil || len(sonames) != 1 || sonames[0] != soname {
		t.Errorf("DT_SONAME %q, %v", sonames, err)
	}
	for _, tag := range []elf.DynTag{elf.DT_HASH, elf.DT_SYMTAB, elf.DT_STRTAB, elf.DT_STRSZ, elf.DT_SYMENT, elf.DT_VERSYM, elf.DT_VERDEF, elf.DT_VERDEFNUM} {
		if v, err := f.DynValue(tag); err != nil || len(v) != 1 {
			t.Errorf("%v: %v, %v", tag, v, err)
		}
	}
	text := f.Section(".text")
	if text == nil || text.Flags != elf.SHF_ALLOC|elf.SHF_EXECINSTR {
		t.Fatalf(".text %+v", text)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]elf.Symbol{}
	for _, s := range syms {
		byName[s.Name] = s
	}
	for i, name := range exported {
		s, ok := byName[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		wantBind := elf.STB_GLOBAL
		if i%2 == 1 {
			wantBind = elf.STB_WEAK
		}
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || elf.ST_BIND(s.Info) != wantBind {
			t.Errorf("%s: type %v bind %v", name, elf.ST_TYPE(s.Info), elf.ST_BIND(s.Info))
		}
		if !s.HasVersion || s.Version != Version {
			t.Errorf("%s: version %q (has %v)", name, s.Version, s.HasVersion)
		}
		if s.Value < text.Addr || s.Value+s.Size > text.Addr+text.Size || s.Size == 0 || s.Value%16 != 0 {
			t.Errorf("%s at %#x+%#x outside .text %#x+%#x", name, s.Value, s.Size, text.Addr, text.Size)
		}
		if i%2 == 1 && s.Value != byName[exported[i-1]].Value {
			t.Errorf("%s is not an alias of %s", name, exported[i-1])
		}
	}
	if len(syms) != len(exported) {
		t.Errorf("%d symbols, want %d", len(syms), len(exported))
	}
}

// vdsoLookup resolves a versioned symbol the way C libraries do at run
// time: from the program headers and the dynamic section only, through
// DT_HASH, checking DT_VERSYM against DT_VERDEF. It returns the symbol's
// address relative to the image, or 0.
func vdsoLookup(t *testing.T, img []byte, name, version string) uint64 {
	le := binary.LittleEndian
	phoff, phnum := le.Uint64(img[32:]), int(le.Uint16(img[56:]))
	var dynOff uint64
	for i := range phnum {
		p := img[phoff+56*uint64(i):]
		if elf.ProgType(le.Uint32(p)) == elf.PT_DYNAMIC {
			dynOff = le.Uint64(p[16:]) // vaddr == offset: linked at 0
		}
	}
	if dynOff == 0 {
		t.Fatal("no PT_DYNAMIC")
	}
	d := map[elf.DynTag]uint64{}
	for off := dynOff; ; off += 16 {
		tag := elf.DynTag(le.Uint64(img[off:]))
		if tag == elf.DT_NULL {
			break
		}
		d[tag] = le.Uint64(img[off+8:])
	}
	cstr := func(off uint64) string {
		s := img[d[elf.DT_STRTAB]+off:]
		return string(s[:bytes.IndexByte(s, 0)])
	}
	// Find the version index of version in DT_VERDEF.
	verIdx := -1
	for off, n := d[elf.DT_VERDEF], 0; n < int(d[elf.DT_VERDEFNUM]); n++ {
		vd := img[off:]
		aux := img[off+uint64(le.Uint32(vd[12:])):]
		if le.Uint16(vd[2:])&1 == 0 && cstr(uint64(le.Uint32(aux))) == version {
			if le.Uint32(vd[8:]) != elfHash(version) {
				t.Errorf("verdef hash of %s", version)
			}
			verIdx = int(le.Uint16(vd[4:]))
		}
		off += uint64(le.Uint32(vd[16:]))
	}
	hash := d[elf.DT_HASH]
	nbucket := le.Uint32(img[hash:])
	for i := le.Uint32(img[hash+8+4*uint64(elfHash(name)%nbucket):]); i != 0; i = le.Uint32(img[hash+8+4*uint64(nbucket)+4*uint64(i):]) {
		sym := img[d[elf.DT_SYMTAB]+24*uint64(i):]
		if cstr(uint64(le.Uint32(sym))) != name || le.Uint16(sym[6:]) == 0 {
			continue
		}
		if int(le.Uint16(img[d[elf.DT_VERSYM]+2*uint64(i):])&0x7fff) != verIdx {
			continue
		}
		return le.Uint64(sym[8:])
	}
	return 0
}

func TestRuntimeLookup(t *testing.T) {
	img := x86Image(t)
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.DynamicSymbols()
	for _, s := range syms {
		if got := vdsoLookup(t, img, s.Name, Version); got != s.Value {
			t.Errorf("lookup %s: %#x, want %#x", s.Name, got, s.Value)
		}
		if got := vdsoLookup(t, img, s.Name, "LINUX_2.5"); got != 0 {
			t.Errorf("%s found with the wrong version", s.Name)
		}
	}
	if got := vdsoLookup(t, img, "__vdso_sgx_enter_enclave", Version); got != 0 {
		t.Error("lookup of an absent symbol succeeded")
	}
}

// TestElfHash checks the hash against values from the System V ABI's
// algorithm as glibc uses it (LINUX_2.6's is a constant in glibc).
func TestElfHash(t *testing.T) {
	for _, c := range []struct {
		s string
		h uint32
	}{{"", 0}, {"LINUX_2.6", 0x3ae75f6}, {"LINUX_2.6.39", 0x75fcb89}} {
		if got := elfHash(c.s); got != c.h {
			t.Errorf("elfHash(%q) = %#x, want %#x", c.s, got, c.h)
		}
	}
}

// TestX86Encodings pins instruction forms whose encodings are easy to get
// wrong (REX bits, SIB, RIP-relative displacement).
func TestX86Encodings(t *testing.T) {
	for _, c := range []struct {
		name string
		emit func(a *x86)
		want []byte
	}{
		{"mov r11,[r9+rdi*8+0x40]", func(a *x86) { a.movLoad(r11, mem{base: r9, index: rdi, scale: 8, disp: 0x40}) }, []byte{0x4d, 0x8b, 0x5c, 0xf9, 0x40}},
		{"mov r8,[r9+rdi*8+0xc0]", func(a *x86) { a.movLoad(r8, mem{base: r9, index: rdi, scale: 8, disp: 0xc0}) }, []byte{0x4d, 0x8b, 0x84, 0xf9, 0xc0, 0, 0, 0}},
		{"mov r10,[r9]", func(a *x86) { a.movLoad(r10, at(r9, 0)) }, []byte{0x4d, 0x8b, 0x11}},
		{"mov rax,[rsp+8]", func(a *x86) { a.movLoad(rax, at(rsp, 8)) }, []byte{0x48, 0x8b, 0x44, 0x24, 0x08}},
		{"mov rax,[r13]", func(a *x86) { a.movLoad(rax, at(13, 0)) }, []byte{0x49, 0x8b, 0x45, 0x00}},
		{"shrd rax,rdx,cl", func(a *x86) { a.shrdCL(rax, rdx) }, []byte{0x48, 0x0f, 0xad, 0xd0}},
		{"mul qword [r9+0x18]", func(a *x86) { a.mulMem(at(r9, 0x18)) }, []byte{0x49, 0xf7, 0x61, 0x18}},
		{"div r8", func(a *x86) { a.divRR(r8) }, []byte{0x49, 0xf7, 0xf0}},
		{"bt rax,rdi", func(a *x86) { a.btRR(rax, rdi) }, []byte{0x48, 0x0f, 0xa3, 0xf8}},
		{"mov edi,edi", func(a *x86) { a.zeroExtend32(rdi) }, []byte{0x89, 0xff}},
		{"mov r9d,1", func(a *x86) { a.movImm32(r9, 1) }, []byte{0x41, 0xb9, 1, 0, 0, 0}},
		{"mov qword [rsi],0", func(a *x86) { a.storeImm32(at(rsi, 0), 0) }, []byte{0x48, 0xc7, 0x06, 0, 0, 0, 0}},
		{"lea r9,[rip-0x1000] at 0", func(a *x86) { a.leaRIP(r9, -0x1000) }, []byte{0x4c, 0x8d, 0x0d, 0xf9, 0xef, 0xff, 0xff}},
	} {
		a := newX86(0)
		c.emit(a)
		if got := a.finish(); !bytes.Equal(got, c.want) {
			t.Errorf("%s: % x, want % x", c.name, got, c.want)
		}
	}
}
