package futex

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/mm/mmtest"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// The tests run futexes on real MemoryManagers over a real memory file,
// with fake platform address spaces.

const testMax = 0x7ffffffff000

type env struct {
	t  testing.TB
	mf *pgalloc.MemoryFile
	mm *mm.MemoryManager
	m  *Manager
}

func newEnv(t testing.TB) *env {
	t.Helper()
	mf, err := pgalloc.New(pgalloc.Options{MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	fa := &mmtest.Factory{}
	m, err := mm.New(mf, fa.New)
	if err != nil {
		t.Fatal(err)
	}
	m.SetMmapLayout(mm.NewMmapLayout(testMax, 8<<20, false))
	e := &env{t, mf, m, NewManager()}
	t.Cleanup(func() {
		e.mm.Release()
		mf.Destroy()
	})
	return e
}

// fork returns a child address space sharing e's memory file.
func (e *env) fork() *mm.MemoryManager {
	e.t.Helper()
	c, err := e.mm.Fork()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Release)
	return c
}

func (e *env) mmap(length uintptr, prot, flags int) uintptr {
	e.t.Helper()
	o, err := mm.ParseMMap(0, length, prot, flags|linux.MAP_ANONYMOUS, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.mm.MMap(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// page maps one private read-write page.
func (e *env) page() uintptr {
	return e.mmap(linux.PageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_PRIVATE)
}

func (e *env) set(addr uintptr, v uint32) {
	e.t.Helper()
	if _, err := e.mm.SwapUint32(addr, v); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(addr uintptr) uint32 {
	e.t.Helper()
	v, err := e.mm.LoadUint32(addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) put64(addr uintptr, v uint64) {
	e.t.Helper()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := e.mm.CopyOut(addr, b[:]); err != nil {
		e.t.Fatal(err)
	}
}

// putTimespec writes ts at addr.
func (e *env) putTimespec(addr uintptr, d time.Duration) {
	e.t.Helper()
	ts := linux.Timespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
	var b [linux.SizeofTimespec]byte
	ts.MarshalBytes(b[:])
	if _, err := e.mm.CopyOut(addr, b[:]); err != nil {
		e.t.Fatal(err)
	}
}

// waitersOf returns the number of waiters queued on addr.
func (e *env) waitersOf(mem Memory, addr uintptr, private bool) int {
	e.t.Helper()
	n, err := e.m.Waiters(mem, addr, private)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// waitQueued waits until n tasks are queued on addr.
func (e *env) waitQueued(mem Memory, addr uintptr, private bool, n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.waitersOf(mem, addr, private) != n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d waiters on %#x, want %d", e.waitersOf(mem, addr, private), addr, n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

var (
	errTestInterrupted = errors.New("test: interrupted")
	errTestTimedOut    = errors.New("test: timed out")
)

// blocker is a Blocker whose interrupt is closing intr.
type blocker struct{ intr chan struct{} }

func newBlocker() *blocker { return &blocker{make(chan struct{})} }

func (b *blocker) Block(ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-b.intr:
		return errTestInterrupted
	}
}

func (b *blocker) BlockWithDeadline(ch <-chan struct{}, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-b.intr:
		return errTestInterrupted
	case <-t.C:
		return errTestTimedOut
	}
}

// async runs f in a goroutine and returns a channel with its result.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// result waits for an async result.
func result(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("waiter never returned")
		return nil
	}
}

// stillBlocked checks that ch has no result yet.
func stillBlocked(t testing.TB, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s returned early: %v", what, err)
	case <-time.After(20 * time.Millisecond):
	}
}
