package loader

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// decodedStack is the initial stack read back from fake memory.
type decodedStack struct {
	sp                 uint64
	argc               uint64
	argv, envp         []string
	argvPtrs, envpPtrs []uint64
	argvAddr, envpAddr uint64
	auxvAddr, auxvEnd  uint64
	auxv               []linux.AuxEntry
	aux                map[uint64]uint64
	execfn, platform   string
	random             []byte
}

func decodeStack(t *testing.T, mm *fakeMM, sp uint64) *decodedStack {
	t.Helper()
	d := &decodedStack{sp: sp, aux: map[uint64]uint64{}}
	d.argc = mm.u64(t, sp)
	a := sp + 8
	d.argvAddr = a
	for i := uint64(0); i < d.argc; i++ {
		p := mm.u64(t, a)
		d.argvPtrs = append(d.argvPtrs, p)
		d.argv = append(d.argv, mm.cstring(t, p))
		a += 8
	}
	if mm.u64(t, a) != 0 {
		t.Fatalf("argv not NULL-terminated")
	}
	a += 8
	d.envpAddr = a
	for {
		p := mm.u64(t, a)
		a += 8
		if p == 0 {
			break
		}
		d.envpPtrs = append(d.envpPtrs, p)
		d.envp = append(d.envp, mm.cstring(t, p))
	}
	d.auxvAddr = a
	for {
		e := linux.AuxEntry{Key: mm.u64(t, a), Value: mm.u64(t, a+8)}
		a += 16
		d.auxv = append(d.auxv, e)
		d.aux[e.Key] = e.Value
		if e.Key == linux.AT_NULL {
			break
		}
		if len(d.auxv) > 64 {
			t.Fatal("auxv not terminated")
		}
	}
	d.auxvEnd = a
	d.execfn = mm.cstring(t, d.aux[linux.AT_EXECFN])
	d.platform = mm.cstring(t, d.aux[linux.AT_PLATFORM])
	r, err := mm.read(d.aux[linux.AT_RANDOM], 16)
	if err != nil {
		t.Fatal(err)
	}
	d.random = r
	return d
}

func wantErrno(t *testing.T, err error, want linux.Errno) {
	t.Helper()
	var got linux.Errno
	if !errors.As(err, &got) || got != want {
		t.Fatalf("got error %v, want %s", err, want.Name())
	}
}

// checkSegments compares the fake memory against the file's PT_LOADs as
// the standard library's independent ELF reader sees them.
func checkSegments(t *testing.T, mm *fakeMM, path string, bias uint64) {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		va := p.Vaddr + bias
		m := mm.find(va)
		if m == nil {
			t.Fatalf("%s: segment at %#x not mapped", path, va)
		}
		want := protOf(uint32(p.Flags))
		if m.prot != want || m.file == nil {
			t.Errorf("%s: segment %#x mapped prot %#x file %v, want prot %#x from the file", path, va, m.prot, m.file != nil, want)
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			t.Fatal(err)
		}
		got, err := mm.read(va, p.Filesz)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: segment %#x contents differ from the file", path, va)
		}
		if p.Memsz > p.Filesz {
			bss, err := mm.read(va+p.Filesz, p.Memsz-p.Filesz)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsFunc(bss, func(r rune) bool { return r != 0 }) {
				t.Errorf("%s: bss at %#x not zero", path, va+p.Filesz)
			}
		}
	}
}

func TestLoadSyntheticStatic(t *testing.T) {
	mm := newFakeMM()
	args := baseArgs(newMemFile(simpleELF().bytes()), mm, mapOpener{})
	res, err := load(args, &amd64Params)
	if err != nil {
		t.Fatal(err)
	}
	if res.Regs.PC != 0x401000 || res.Entry != 0x401000 || res.Base != 0 {
		t.Errorf("pc %#x entry %#x base %#x", res.Regs.PC, res.Entry, res.Base)
	}
	// Data page: 0x100 file bytes, then zeros to the end of the page
	// though the file had 0xAA there.
	b, _ := mm.read(0x602000, page)
	if !bytes.Equal(b[:0x100], bytes.Repeat([]byte{0xAA}, 0x100)) {
		t.Errorf("data not from file")
	}
	if !bytes.Equal(b[0x100:], make([]byte, page-0x100)) {
		t.Errorf("bss tail of the last file page not zeroed")
	}
	m := mm.find(0x603000)
	if m == nil || m.file != nil || m.start != 0x603000 || m.end != 0x605000 || m.prot != linux.PROT_READ|linux.PROT_WRITE {
		t.Errorf("anonymous bss mapping: %+v", m)
	}
	if mm.brk != 0x605000 || res.BrkStart != 0x605000 {
		t.Errorf("brk %#x, want 0x605000", mm.brk)
	}
	if res.ExecStack {
		t.Errorf("PT_GNU_STACK RW- gave an executable stack")
	}
	st := mm.find(uint64(args.Layout.StackTop) - 1)
	if st == nil || !st.growsDown || st.prot != linux.PROT_READ|linux.PROT_WRITE || st.end != uint64(args.Layout.StackTop) {
		t.Errorf("stack mapping %+v", st)
	}
	if st.end-st.start < initialStackExpand {
		t.Errorf("stack mapping %#x bytes, want at least %#x", st.end-st.start, initialStackExpand)
	}
}

// TestBSSNotWritable: Linux zeroes the bss tail of the last file page only
// when the segment is writable; otherwise the file bytes stay visible.
func TestBSSNotWritable(t *testing.T) {
	e := simpleELF()
	e.phdrs[1].Flags = linux.PF_R
	mm := newFakeMM()
	if _, err := load(baseArgs(newMemFile(e.bytes()), mm, nil), &amd64Params); err != nil {
		t.Fatal(err)
	}
	b, _ := mm.read(0x602000+0x100, 1)
	if b[0] != 0xAA {
		t.Errorf("read-only segment's page tail was modified")
	}
	if m := mm.find(0x603000); m == nil || m.prot != linux.PROT_READ|linux.PROT_WRITE {
		t.Errorf("anonymous bss of a read-only segment: %+v, Linux maps it read-write", m)
	}
}

func TestStackLayout(t *testing.T) {
	mm := newFakeMM()
	args := baseArgs(newMemFile(simpleELF().bytes()), mm, nil)
	args.RseqFeatureSize = 28
	args.MinSigStackSize = 1776
	res, err := load(args, &amd64Params)
	if err != nil {
		t.Fatal(err)
	}
	sp := res.Regs.SP
	if sp%16 != 0 || res.StackStart != sp {
		t.Fatalf("sp %#x not 16-byte aligned", sp)
	}
	d := decodeStack(t, mm, sp)
	if d.argc != 2 || strings.Join(d.argv, " ") != "prog a1" || strings.Join(d.envp, " ") != "HOME=/ X=y" {
		t.Fatalf("argc %d argv %q envp %q", d.argc, d.argv, d.envp)
	}
	top := uint64(args.Layout.StackTop)
	// From the top: a NULL word, AT_EXECFN, env strings, arg strings.
	if w := mm.u64(t, top-8); w != 0 {
		t.Errorf("top word %#x", w)
	}
	if d.aux[linux.AT_EXECFN] != top-8-uint64(len("/prog")+1) || d.execfn != "/prog" {
		t.Errorf("AT_EXECFN at %#x = %q", d.aux[linux.AT_EXECFN], d.execfn)
	}
	if d.envpPtrs[1]+uint64(len("X=y")+1) != d.aux[linux.AT_EXECFN] {
		t.Errorf("env strings do not end at the execfn string")
	}
	if d.argvPtrs[1]+uint64(len("a1")+1) != d.envpPtrs[0] || d.argvPtrs[0]+5 != d.argvPtrs[1] {
		t.Errorf("arg strings not contiguous before env strings")
	}
	if res.ArgvStart != d.argvPtrs[0] || res.ArgvEnd != d.envpPtrs[0] || res.EnvvStart != d.envpPtrs[0] || res.EnvvEnd != d.aux[linux.AT_EXECFN] {
		t.Errorf("proc ranges %#x-%#x %#x-%#x", res.ArgvStart, res.ArgvEnd, res.EnvvStart, res.EnvvEnd)
	}
	// Below the strings (no randomisation): 16-byte alignment, the
	// platform string, then the random bytes.
	plat := d.aux[linux.AT_PLATFORM]
	if d.platform != "x86_64" || plat+7 != res.ArgvStart&^15 {
		t.Errorf("AT_PLATFORM %q at %#x, arg strings at %#x", d.platform, plat, res.ArgvStart)
	}
	if d.aux[linux.AT_RANDOM] != plat-16 {
		t.Errorf("AT_RANDOM at %#x, want just below the platform string %#x", d.aux[linux.AT_RANDOM], plat)
	}
	if d.auxvEnd > d.aux[linux.AT_RANDOM] || d.aux[linux.AT_RANDOM]-d.auxvEnd >= 16 {
		t.Errorf("auxv ends at %#x, random bytes at %#x", d.auxvEnd, d.aux[linux.AT_RANDOM])
	}
	// The deterministic reader yields 16 bytes for AT_RANDOM (no layout
	// randomisation draws before it).
	if !bytes.Equal(d.random, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
		t.Errorf("AT_RANDOM bytes %v", d.random)
	}
	wantKeys := []uint64{linux.AT_MINSIGSTKSZ, linux.AT_HWCAP, linux.AT_PAGESZ, linux.AT_CLKTCK, linux.AT_PHDR,
		linux.AT_PHENT, linux.AT_PHNUM, linux.AT_BASE, linux.AT_FLAGS, linux.AT_ENTRY, linux.AT_UID, linux.AT_EUID,
		linux.AT_GID, linux.AT_EGID, linux.AT_SECURE, linux.AT_RANDOM, linux.AT_HWCAP2, linux.AT_EXECFN,
		linux.AT_PLATFORM, linux.AT_RSEQ_FEATURE_SIZE, linux.AT_RSEQ_ALIGN, linux.AT_NULL}
	var keys []uint64
	for _, e := range d.auxv {
		keys = append(keys, e.Key)
	}
	if !equalU64(keys, wantKeys) {
		t.Errorf("auxv keys %v, want %v", keys, wantKeys)
	}
	want := map[uint64]uint64{
		linux.AT_MINSIGSTKSZ: 1776, linux.AT_HWCAP: 0x178bfbff, linux.AT_PAGESZ: 4096, linux.AT_CLKTCK: 100,
		linux.AT_PHDR: 0x400040, linux.AT_PHENT: 56, linux.AT_PHNUM: 3, linux.AT_BASE: 0, linux.AT_FLAGS: 0,
		linux.AT_ENTRY: 0x401000, linux.AT_UID: 1, linux.AT_EUID: 2, linux.AT_GID: 3, linux.AT_EGID: 4,
		linux.AT_SECURE: 0, linux.AT_HWCAP2: 2, linux.AT_RSEQ_FEATURE_SIZE: 28, linux.AT_RSEQ_ALIGN: 32,
	}
	for k, v := range want {
		if d.aux[k] != v {
			t.Errorf("auxv[%d] = %#x, want %#x", k, d.aux[k], v)
		}
	}
	if !bytes.Equal(res.AuxvBytes()[:16], []byte{51, 0, 0, 0, 0, 0, 0, 0, 0xf0, 6, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("AuxvBytes %x", res.AuxvBytes()[:16])
	}
	if res.Comm != "prog" || res.ExePath != "/prog" {
		t.Errorf("comm %q exe %q", res.Comm, res.ExePath)
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEmptyArgv(t *testing.T) {
	mm := newFakeMM()
	args := baseArgs(newMemFile(simpleELF().bytes()), mm, nil)
	args.Argv = nil
	res, err := load(args, &amd64Params)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeStack(t, mm, res.Regs.SP)
	if d.argc != 1 || d.argv[0] != "" {
		t.Errorf("argc %d argv %q, want one empty string", d.argc, d.argv)
	}
}

func TestRandomizedLayout(t *testing.T) {
	mm := newFakeMM()
	args := baseArgs(newMemFile(simpleELF().bytes()), mm, nil)
	args.Layout.Randomize = true
	res, err := load(args, &amd64Params)
	if err != nil {
		t.Fatal(err)
	}
	if res.Regs.SP%16 != 0 {
		t.Errorf("sp %#x", res.Regs.SP)
	}
	d := decodeStack(t, mm, res.Regs.SP)
	gap := res.ArgvStart - (d.aux[linux.AT_PLATFORM] + 7)
	if gap > amd64Params.stackAlignRandom+15 {
		t.Errorf("gap below strings %d", gap)
	}
	// brk: a page after the bss end, plus up to 32 MiB.
	if res.BrkStart < 0x606000 || res.BrkStart >= 0x606000+amd64Params.brkRandomRange || res.BrkStart%page != 0 {
		t.Errorf("randomised brk %#x", res.BrkStart)
	}
}

func TestArm64Parse(t *testing.T) {
	e := simpleELF()
	e.machine = linux.EM_AARCH64
	mm := newFakeMM()
	mm.taskSize = arm64Params.taskSize
	args := baseArgs(newMemFile(e.bytes()), mm, nil)
	res, err := load(args, &arm64Params)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeStack(t, mm, res.Regs.SP)
	if d.platform != "aarch64" || d.aux[linux.AT_MINSIGSTKSZ] != 5120 {
		t.Errorf("platform %q minsigstksz %d", d.platform, d.aux[linux.AT_MINSIGSTKSZ])
	}
	_, err = load(baseArgs(newMemFile(e.bytes()), newFakeMM(), nil), &amd64Params)
	wantErrno(t, err, linux.ENOEXEC)
}

func TestVDSOHook(t *testing.T) {
	v := testELF{typ: linux.ET_DYN, phdrs: []linux.ElfProg64{{Type: linux.PT_LOAD, Flags: linux.PF_R | linux.PF_X, Filesz: 0x200, Memsz: 0x200, Align: page}}, bodyOff: page, body: make([]byte, 0x200)}
	mm := newFakeMM()
	args := baseArgs(newMemFile(simpleELF().bytes()), mm, nil)
	args.VDSO = newMemFile(v.bytes())
	res, err := load(args, &amd64Params)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeStack(t, mm, res.Regs.SP)
	if d.auxv[0].Key != linux.AT_SYSINFO_EHDR || d.auxv[0].Value != res.VDSOBase || res.VDSOBase == 0 {
		t.Fatalf("auxv[0] %+v, vdso at %#x", d.auxv[0], res.VDSOBase)
	}
	m := mm.find(res.VDSOBase)
	if m == nil || m.prot != linux.PROT_READ|linux.PROT_EXEC {
		t.Errorf("vdso mapping %+v", m)
	}
	if hdr, _ := mm.read(res.VDSOBase, 4); string(hdr) != linux.ELFMAG {
		t.Errorf("vdso image not at AT_SYSINFO_EHDR")
	}
}

func TestBusyboxStatic(t *testing.T) {
	const path = "/bin/busybox"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static)")
	}
	f := openHost(t, path)
	mm := newFakeMM()
	args := baseArgs(f, mm, hostOpener{t: t, root: "/"})
	args.Filename = path
	args.Argv = []string{"busybox", "true"}
	res, err := Load(args)
	if err != nil {
		t.Skipf("busybox is not a static host ELF here: %v", err)
	}
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	bias := uint64(0)
	if ef.Type == elf.ET_DYN {
		bias = res.Entry - ef.Entry
	}
	checkSegments(t, mm, path, bias)
	if res.Base != 0 || res.Regs.PC != ef.Entry+bias {
		t.Errorf("pc %#x base %#x, entry %#x", res.Regs.PC, res.Base, ef.Entry)
	}
	d := decodeStack(t, mm, res.Regs.SP)
	if d.aux[linux.AT_PHNUM] != uint64(len(ef.Progs)) {
		t.Errorf("AT_PHNUM %d", d.aux[linux.AT_PHNUM])
	}
	ph, err := mm.read(d.aux[linux.AT_PHDR], linux.SizeofElfProg64)
	if err != nil {
		t.Fatal(err)
	}
	var p linux.ElfProg64
	p.UnmarshalBytes(ph)
	if elf.ProgType(p.Type) != ef.Progs[0].Type || p.Vaddr != ef.Progs[0].Vaddr {
		t.Errorf("AT_PHDR does not point at the program headers: %+v", p)
	}
}

func TestDynamicLs(t *testing.T) {
	const path = "/bin/ls"
	ef, err := elf.Open(path)
	if err != nil || ef.Machine != hostELFMachine() {
		t.Skip("no host /bin/ls")
	}
	defer ef.Close()
	var interp string
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if interp == "" || ef.Type != elf.ET_DYN {
		t.Skip("/bin/ls is not a dynamic PIE")
	}
	mm := newFakeMM()
	args := baseArgs(openHost(t, path), mm, hostOpener{t: t, root: "/"})
	args.Filename = path
	res, err := Load(args)
	if err != nil {
		t.Fatal(err)
	}
	// No randomisation: the PIE at ELF_ET_DYN_BASE, the interpreter
	// where mmap puts it (top-down below the mmap base).
	wantBias := hostArch.etDynBase(hostArch.taskSize)
	if res.Entry != ef.Entry+wantBias {
		t.Errorf("AT_ENTRY %#x, want %#x", res.Entry, ef.Entry+wantBias)
	}
	checkSegments(t, mm, path, wantBias)
	realInterp, _ := filepath.EvalSymlinks(interp)
	checkSegments(t, mm, realInterp, res.Base)
	ief, err := elf.Open(interp)
	if err != nil {
		t.Fatal(err)
	}
	defer ief.Close()
	if res.Regs.PC != ief.Entry+res.Base {
		t.Errorf("pc %#x, want the interpreter's entry %#x", res.Regs.PC, ief.Entry+res.Base)
	}
	if res.Base == 0 || res.Base >= mm.mmapBase || res.Base < wantBias {
		t.Errorf("interpreter base %#x", res.Base)
	}
	d := decodeStack(t, mm, res.Regs.SP)
	if d.aux[linux.AT_BASE] != res.Base || d.aux[linux.AT_ENTRY] != res.Entry {
		t.Errorf("AT_BASE %#x AT_ENTRY %#x", d.aux[linux.AT_BASE], d.aux[linux.AT_ENTRY])
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_PHDR && d.aux[linux.AT_PHDR] != p.Vaddr+wantBias {
			t.Errorf("AT_PHDR %#x, PT_PHDR says %#x", d.aux[linux.AT_PHDR], p.Vaddr+wantBias)
		}
	}
	if res.BrkStart%page != 0 || res.BrkStart < wantBias {
		t.Errorf("brk %#x", res.BrkStart)
	}

	// With randomisation the bias moves by whole pages within 2^28 pages.
	mm2 := newFakeMM()
	args2 := baseArgs(openHost(t, path), mm2, hostOpener{t: t, root: "/"})
	args2.Layout.Randomize = true
	args2.Rand = &counterRand{n: 7}
	res2, err := Load(args2)
	if err != nil {
		t.Fatal(err)
	}
	bias2 := res2.Entry - ef.Entry
	if bias2 == wantBias || bias2%page != 0 || bias2-wantBias >= 1<<(hostArch.mmapRndBits+12) {
		t.Errorf("randomised bias %#x", bias2)
	}
}

func hostELFMachine() elf.Machine {
	return elf.Machine(hostArch.machine)
}

// gccArchPrefix is how gcc -dumpmachine names each GOARCH.
var gccArchPrefix = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// buildC compiles a C program with gcc into dir, skipping when gcc (or a
// static libc) is missing.
func buildC(t *testing.T, dir, name, src string, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	// Under qemu-user (make cross) the test is built for another
	// architecture than gcc targets, and the binaries would not load.
	if out, err := exec.Command(gcc, "-dumpmachine").Output(); err != nil || !strings.HasPrefix(string(out), gccArchPrefix[runtime.GOARCH]) {
		t.Skipf("gcc targets %q, not this test's %s", strings.TrimSpace(string(out)), runtime.GOARCH)
	}
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(gcc, append(append([]string{"-O2", "-o", out}, flags...), c)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("gcc %v failed (no static libc?): %v\n%s", flags, err, b)
	}
	return out
}

const tinyC = `
#include <stdio.h>
int data = 42;
char bss[100000];
int main(void) { return data + bss[0]; }
`

func TestGccStaticPIEAndNonPIE(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		flags []string
		typ   elf.Type
	}{
		{"static", []string{"-static", "-no-pie"}, elf.ET_EXEC},
		{"static-pie", []string{"-static-pie"}, elf.ET_DYN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := buildC(t, dir, tc.name, tinyC, tc.flags...)
			ef, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			if ef.Type != tc.typ {
				t.Fatalf("gcc built %v, want %v", ef.Type, tc.typ)
			}
			mm := newFakeMM()
			args := baseArgs(openHost(t, bin), mm, mapOpener{})
			res, err := Load(args)
			if err != nil {
				t.Fatal(err)
			}
			bias := res.Entry - ef.Entry
			if tc.typ == elf.ET_EXEC && bias != 0 {
				t.Errorf("ET_EXEC moved by %#x", bias)
			}
			if tc.typ == elf.ET_DYN && (bias == 0 || bias >= mm.mmapBase || bias < mm.mmapBase-1<<30) {
				// A static PIE goes where mmap puts it, as
				// on Linux (0x7ffff7... without ASLR).
				t.Errorf("static PIE bias %#x, want just below the mmap base", bias)
			}
			checkSegments(t, mm, bin, bias)
			var end uint64
			for _, p := range ef.Progs {
				if p.Type == elf.PT_LOAD && p.Vaddr+p.Memsz > end {
					end = p.Vaddr + p.Memsz
				}
			}
			wantBrk, _ := pageUp(end + bias)
			if res.BrkStart != wantBrk {
				t.Errorf("brk %#x, want %#x", res.BrkStart, wantBrk)
			}
			if res.Regs.PC != res.Entry || res.Base != 0 {
				t.Errorf("pc %#x base %#x", res.Regs.PC, res.Base)
			}
			// Randomised static PIE: brk moves to ELF_ET_DYN_BASE.
			if tc.typ == elf.ET_DYN {
				mm := newFakeMM()
				args := baseArgs(openHost(t, bin), mm, mapOpener{})
				args.Layout.Randomize = true
				res, err := Load(args)
				if err != nil {
					t.Fatal(err)
				}
				base := hostArch.etDynBase(hostArch.taskSize)
				if res.BrkStart < base || res.BrkStart >= base+hostArch.brkRandomRange {
					t.Errorf("randomised static-PIE brk %#x, want in ELF_ET_DYN_BASE+[0,%#x)", res.BrkStart, hostArch.brkRandomRange)
				}
			}
		})
	}
}

// TestHostExecutablesParse guards against being stricter than Linux on
// real files: every host executable for this machine in /usr/bin passes
// validation.
func TestHostExecutablesParse(t *testing.T) {
	ents, err := os.ReadDir("/usr/bin")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join("/usr/bin", e.Name())
		ef, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := ef.Machine == hostELFMachine() && (ef.Type == elf.ET_EXEC || ef.Type == elf.ET_DYN)
		ef.Close()
		if !ok {
			continue
		}
		if _, err := parseELF(openHost(t, p), hostArch, hostArch.taskSize); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		n++
	}
	t.Logf("%d host executables validated", n)
}
