package ptrace

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// memFileSize is the size of the test memory file.
const memFileSize = 16 << 20

// testEnv is a platform over a fresh memory file.
type testEnv struct {
	t     testing.TB
	memFD int
	p     *Platform
}

// newEnv creates a platform, or skips the test where ptrace cannot work.
func newEnv(t testing.TB) *testEnv {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		// The arm64 tests run under qemu-user, which cannot ptrace its
		// guest's children: New would wait forever for the stub to stop.
		t.Skipf("ptrace platform tests run on amd64 only, not %s", runtime.GOARCH)
	}
	fd, err := unix.MemfdCreate("ptrace-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	if err := unix.Ftruncate(fd, memFileSize); err != nil {
		t.Fatalf("ftruncate: %v", err)
	}
	p, err := New(fd)
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
			t.Skipf("ptrace unavailable here: %v", err)
		}
		t.Fatalf("New: %v", err)
	}
	e := &testEnv{t: t, memFD: fd, p: p}
	t.Cleanup(func() {
		p.Release()
		unix.Close(fd)
	})
	return e
}

// write puts b into the memory file at off.
func (e *testEnv) write(off int64, b []byte) {
	e.t.Helper()
	if _, err := unix.Pwrite(e.memFD, b, off); err != nil {
		e.t.Fatalf("pwrite: %v", err)
	}
}

func (e *testEnv) read(off int64, n int) []byte {
	e.t.Helper()
	b := make([]byte, n)
	if _, err := unix.Pread(e.memFD, b, off); err != nil {
		e.t.Fatalf("pread: %v", err)
	}
	return b
}

func (e *testEnv) newAS() *addressSpace {
	e.t.Helper()
	as, err := e.p.NewAddressSpace()
	if err != nil {
		e.t.Fatalf("NewAddressSpace: %v", err)
	}
	return as.(*addressSpace)
}

func (e *testEnv) mapFile(as platform.AddressSpace, addr uintptr, off uint64, length uintptr, at platform.AccessType) {
	e.t.Helper()
	if err := as.MapFile(addr, off, length, at); err != nil {
		e.t.Fatalf("MapFile(%#x, %#x, %#x, %v): %v", addr, off, length, at, err)
	}
}

func (e *testEnv) newContext() platform.Context {
	e.t.Helper()
	c, err := e.p.NewContext()
	if err != nil {
		e.t.Fatalf("NewContext: %v", err)
	}
	return c
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int32) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesized command name.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
		}
	}
	return false
}

// exists reports whether pid exists at all (a zombie counts).
func exists(pid int32) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(int(pid)))
	return err == nil
}

func unixMemfd() (int, error) {
	fd, err := unix.MemfdCreate("ptrace-test", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	return fd, unix.Ftruncate(fd, memFileSize)
}

func unixPwrite(fd int, b []byte, off int64) {
	unix.Pwrite(fd, b, off)
}

// unpin lets tid run on every CPU.
func unpin(tid int32) {
	var set unix.CPUSet
	for i := 0; i < runtime.NumCPU(); i++ {
		set.Set(i)
	}
	unix.SchedSetaffinity(int(tid), &set)
}

// TestNew checks what New learns from the pristine stub, and that address
// spaces come and go.
func TestNew(t *testing.T) {
	e := newEnv(t)
	if e.p.FPStateSize() <= 0 || len(e.p.initFP) != e.p.FPStateSize() {
		t.Errorf("FPStateSize %d, initial state %d bytes", e.p.FPStateSize(), len(e.p.initFP))
	}
	if e.p.Name() != "ptrace" || e.p.MaxUserAddress() != stub.MaxUserAddress {
		t.Errorf("Name %q MaxUserAddress %#x", e.p.Name(), e.p.MaxUserAddress())
	}
	for i := 0; i < 3; i++ {
		as := e.newAS()
		if !alive(as.pid) {
			t.Errorf("stub %d not running", as.pid)
		}
		as.Release()
		if exists(as.pid) {
			t.Errorf("stub %d left after Release", as.pid)
		}
	}
	t.Logf("FP state: %d bytes", e.p.FPStateSize())
}
