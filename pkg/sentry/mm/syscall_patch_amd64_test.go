package mm

import (
	"bytes"
	"encoding/binary"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

const testEntry = 0x7ffb_0001_0200

// codeWith maps a private read-only executable page holding code at off.
func (e *env) codeWith(off uintptr, code []byte) uintptr {
	e.t.Helper()
	a := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	page := bytes.Repeat([]byte{0x90}, pageSize)
	copy(page[off:], code)
	e.write(a, page)
	if err := e.mm.MProtect(a, pageSize, linux.PROT_READ|linux.PROT_EXEC); err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) force(addr uintptr, n int) []byte {
	e.t.Helper()
	b := make([]byte, n)
	if c, err := e.mm.ForceIO(addr, b, false); err != nil || c != n {
		e.t.Fatalf("ForceIO(%#x) = %d, %v", addr, c, err)
	}
	return b
}

var (
	movGetpid   = []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05}
	glibcSyscal = []byte{0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05}
)

func TestPatchSyscall(t *testing.T) {
	e := newEnv(t)
	a := e.codeWith(0x100, movGetpid)
	e.mm.PatchSyscall(a+0x107, 39, testEntry)
	site := e.force(a+0x100, 7)
	if !bytes.Equal(site, []byte{0xff, 0x24, 0x25, 8, 0, 0x0f, 0x0b}) {
		t.Fatalf("site % x", site)
	}
	if got := binary.LittleEndian.Uint64(e.force(patchTable, 8)); got != testEntry {
		t.Errorf("table entry 0 %#x", got)
	}
	tramp := binary.LittleEndian.Uint64(e.force(patchTable+8, 8))
	code := e.force(uintptr(tramp), 22)
	want := append(append([]byte{0xb8, 39, 0, 0, 0, 0x48, 0xb9}, binary.LittleEndian.AppendUint64(nil, uint64(a+0x107))...),
		0xff, 0x24, 0x25, 0, 0, 0x0f, 0x0b)
	if !bytes.Equal(code, want) {
		t.Errorf("trampoline\n% x\nwant\n% x", code, want)
	}
	// The application sees the area as read-only code.
	if _, err := e.mm.CopyOut(patchTable, []byte{1}); err == nil {
		t.Error("the patch area is writable")
	}
	if what, ip := e.mm.PatchedTrap(a+0x105, false); what != PatchTrapSyscall || ip != a+0x107 {
		t.Errorf("PatchedTrap at the ud2: %v, %#x", what, ip)
	}
	if what, _ := e.mm.PatchedTrap(a+0x104, false); what != PatchTrapNone {
		t.Errorf("PatchedTrap before the ud2: %v", what)
	}

	// glibc's syscall(3) takes the next entry.
	b := e.codeWith(0x22, glibcSyscal)
	e.mm.PatchSyscall(b+0x29, 1234, testEntry)
	if site := e.force(b+0x22, 7); !bytes.Equal(site, []byte{0xff, 0x24, 0x25, 16, 0, 0x0f, 0x0b}) {
		t.Fatalf("syscall(3) site % x", site)
	}

	// Replacing the area puts every site back first.
	e.mmap(patchTable, pageSize, linux.PROT_READ, linux.MAP_FIXED)
	if site := e.force(a+0x100, 7); !bytes.Equal(site, movGetpid) {
		t.Errorf("after unmapping the area: site % x", site)
	}
	if site := e.force(b+0x22, 7); !bytes.Equal(site, glibcSyscal) {
		t.Errorf("after unmapping the area: syscall(3) site % x", site)
	}
	c := e.codeWith(0x100, movGetpid)
	e.mm.PatchSyscall(c+0x107, 39, testEntry)
	if site := e.force(c+0x100, 7); !bytes.Equal(site, movGetpid) {
		t.Errorf("patched after the area went: % x", site)
	}
}

func TestPatchSyscallRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  uintptr
		code []byte
		nr   uint64
		prot int
	}{
		{"other number than the call's", 0x100, movGetpid, 40, linux.PROT_READ | linux.PROT_EXEC},
		{"REX prefix before (mov $39, %r8d)", 0xff, append([]byte{0x41}, movGetpid...), 39, linux.PROT_READ | linux.PROT_EXEC},
		{"writable code", 0x100, movGetpid, 39, linux.PROT_READ | linux.PROT_WRITE | linux.PROT_EXEC},
		{"not a syscall", 0x100, []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x0b}, 39, linux.PROT_READ | linux.PROT_EXEC},
		{"another instruction", 0x100, []byte{0x48, 0x89, 0xf8, 0x90, 0x90, 0x0f, 0x05}, 39, linux.PROT_READ | linux.PROT_EXEC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.codeWith(tc.off, tc.code)
			if err := e.mm.MProtect(a, pageSize, tc.prot); err != nil {
				t.Fatal(err)
			}
			end := a + tc.off + uintptr(len(tc.code))
			e.mm.PatchSyscall(end, tc.nr, testEntry)
			if got := e.force(a+tc.off, len(tc.code)); !bytes.Equal(got, tc.code) {
				t.Errorf("patched: % x", got)
			}
		})
	}
}

func TestPatchSyscallFork(t *testing.T) {
	e := newEnv(t)
	a := e.codeWith(0x100, movGetpid)
	e.mm.PatchSyscall(a+0x107, 39, testEntry)
	b := e.codeWith(0x200, movGetpid)
	child, err := e.mm.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	child.PatchSyscall(b+0x207, 39, testEntry)
	got := make([]byte, 7)
	if _, err := child.ForceIO(a+0x100, got, false); err != nil || got[3] != 8 {
		t.Errorf("child's copy of the parent's site % x, %v", got, err)
	}
	if _, err := child.ForceIO(b+0x200, got, false); err != nil || got[3] != 16 {
		t.Errorf("child's own site % x (want entry 2), %v", got, err)
	}
	if parent := e.force(b+0x200, 7); !bytes.Equal(parent, movGetpid) {
		t.Errorf("the child's patch shows in the parent: % x", parent)
	}
}

func TestPatchSyscallMovedCode(t *testing.T) {
	e := newEnv(t)
	a := e.codeWith(0x100, movGetpid)
	e.mm.PatchSyscall(a+0x107, 39, testEntry)
	tramp := uintptr(binary.LittleEndian.Uint64(e.force(patchTable+8, 8)))
	for _, ip := range []uintptr{tramp, tramp + 5, tramp + 15} {
		if site, ok := e.mm.SiteOfTrampoline(ip); !ok || site != a+0x100 {
			t.Errorf("SiteOfTrampoline(%#x) = %#x, %v", ip, site, ok)
		}
	}
	if _, ok := e.mm.SiteOfTrampoline(tramp + 22); ok {
		t.Error("SiteOfTrampoline past the code")
	}
	// The trampoline returns to a+0x107: moving the code undoes the site.
	b, err := e.mm.MRemap(a, pageSize, pageSize, linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED, a+16*pageSize)
	if err != nil {
		t.Fatal(err)
	}
	if site := e.force(b+0x100, 7); !bytes.Equal(site, movGetpid) {
		t.Errorf("moved site % x", site)
	}
	e.mm.PatchSyscall(b+0x107, 39, testEntry)
	if site := e.force(b+0x100, 7); site[3] != 16 {
		t.Errorf("moved site not patched again with a new entry: % x", site)
	}
}

// TestPatchSyscallAcrossBlocks rewrites sites that no single store covers:
// with core synchronizations in between, and PatchedTrap sends threads
// that trapped on the intermediate bytes on.
func TestPatchSyscallAcrossBlocks(t *testing.T) {
	for _, off := range []uintptr{0x10a, 0x10f, pageSize - 3} {
		e := newEnv(t)
		a := e.mmap(0, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
		e.write(a+off, movGetpid)
		if err := e.mm.MProtect(a, 2*pageSize, linux.PROT_READ|linux.PROT_EXEC); err != nil {
			t.Fatal(err)
		}
		e.mm.PatchSyscall(a+off+7, 39, testEntry)
		if site := e.force(a+off, 7); !bytes.Equal(site, []byte{0xff, 0x24, 0x25, 8, 0, 0x0f, 0x0b}) {
			t.Fatalf("offset %#x: site % x", off, site)
		}
		if n := e.as().SyncCores.Load(); n != 2 {
			t.Errorf("offset %#x: %d core synchronizations, want 2", off, n)
		}
		// A thread that hit the int3 goes back to the site; one that
		// hit an int3 of its own stays.
		if what, ip := e.mm.PatchedTrap(a+off+1, true); what != PatchTrapRetry || ip != a+off {
			t.Errorf("int3 at the site: %v %#x", what, ip)
		}
		if what, _ := e.mm.PatchedTrap(a+off+2, true); what != PatchTrapNone {
			t.Errorf("int3 elsewhere: %v", what)
		}
		// Moving the code puts the site back the same way.
		b, err := e.mm.MRemap(a, 2*pageSize, 2*pageSize, linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED, a+16*pageSize)
		if err != nil {
			t.Fatal(err)
		}
		if site := e.force(b+off, 7); !bytes.Equal(site, movGetpid) {
			t.Errorf("offset %#x: moved site % x", off, site)
		}
		if n := e.as().SyncCores.Load(); n != 4 {
			t.Errorf("offset %#x: %d core synchronizations after undoing, want 4", off, n)
		}
	}
}

// glibcRead is the start of glibc 2.36's read(2): the fast path's
// `xor %eax, %eax; syscall`, then the padding after its ret.
var glibcRead = []byte{
	0x80, 0x3d, 0x31, 0x33, 0x0e, 0x00, 0x00, // cmpb $0, single_threaded(%rip)
	0x74, 0x17, // je
	0x31, 0xc0, // xor %eax, %eax
	0x0f, 0x05, // syscall
	0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, // cmp $-4096, %rax
	0x77, 0x5b, // ja
	0xc3,                                                       // ret
	0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, // cs nopw 0(%rax,%rax,1)
	0x48, 0x83, 0xec, 0x28, // sub $0x28, %rsp
}

func TestPatchSyscallShort(t *testing.T) {
	e := newEnv(t)
	a := e.codeWith(0x2a0, glibcRead)
	e.mm.PatchSyscall(a+0x2ad, 0, testEntry)
	if got := e.force(a+0x2a9, 4); !bytes.Equal(got, []byte{0xeb, 0x0b, 0x0f, 0x05}) {
		t.Fatalf("site % x, want a jump to the padding and the syscall kept", got)
	}
	if got := e.force(a+0x2b6, 7); !bytes.Equal(got, []byte{0xff, 0x24, 0x25, 8, 0, 0x0f, 0x0b}) {
		t.Fatalf("padding % x", got)
	}
	tramp := uintptr(binary.LittleEndian.Uint64(e.force(patchTable+8, 8)))
	want := append(append([]byte{0x31, 0xc0, 0x0f, 0x1f, 0x00, 0x48, 0xb9}, binary.LittleEndian.AppendUint64(nil, uint64(a+0x2ad))...),
		0xff, 0x24, 0x25, 0, 0, 0x0f, 0x0b)
	if got := e.force(tramp, 22); !bytes.Equal(got, want) {
		t.Errorf("trampoline\n% x\nwant\n% x", got, want)
	}
	if site, ok := e.mm.SiteOfTrampoline(tramp + 5); !ok || site != a+0x2a9 {
		t.Errorf("SiteOfTrampoline = %#x, %v", site, ok)
	}
	// Only the number read uses.
	b := e.codeWith(0x2a0, glibcRead)
	e.mm.PatchSyscall(b+0x2ad, 1, testEntry)
	if got := e.force(b+0x2a9, 2); !bytes.Equal(got, []byte{0x31, 0xc0}) {
		t.Errorf("patched for another number: % x", got)
	}
	// No padding within reach: left alone.
	noPad := append([]byte(nil), glibcRead...)
	noPad[21] = 0x90 // the ret
	c := e.codeWith(0x2a0, noPad)
	e.mm.PatchSyscall(c+0x2ad, 0, testEntry)
	if got := e.force(c+0x2a9, 2); !bytes.Equal(got, []byte{0x31, 0xc0}) {
		t.Errorf("patched without padding: % x", got)
	}
	// Unmapping the area puts the xor back.
	e.mmap(patchTable, pageSize, linux.PROT_READ, linux.MAP_FIXED)
	if got := e.force(a+0x2a9, 2); !bytes.Equal(got, []byte{0x31, 0xc0}) {
		t.Errorf("after unmapping the area: % x", got)
	}
}
