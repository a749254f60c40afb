package lock

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

type chanBlocker struct{ ctx context.Context }

func (b chanBlocker) Block(ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
}

var bg = chanBlocker{context.Background()}

type owner struct{ name string }

func rng(s, e uint64) Range { return Range{s, e} }

func TestComputeRange(t *testing.T) {
	for _, c := range []struct {
		base, start, length int64
		want                Range
		err                 error
	}{
		{0, 0, 0, Range{0, EOF}, nil},
		{0, 10, 5, Range{10, 15}, nil},
		{100, -10, 5, Range{90, 95}, nil},
		{0, 10, -5, Range{5, 10}, nil},
		{0, 10, -11, Range{}, linux.EINVAL},
		{0, -1, 1, Range{}, linux.EINVAL},
		{10, math.MaxInt64, 1, Range{}, linux.EOVERFLOW},
		{0, 1, math.MaxInt64, Range{1, EOF}, nil},
		{0, 2, math.MaxInt64, Range{}, linux.EOVERFLOW},
		{0, 5, math.MinInt64, Range{}, linux.EINVAL},
	} {
		got, err := ComputeRange(c.base, c.start, c.length)
		if err != c.err || (err == nil && got != c.want) {
			t.Errorf("ComputeRange(%d, %d, %d) = %v, %v; want %v, %v", c.base, c.start, c.length, got, err, c.want, c.err)
		}
	}
	if s, l := (Range{10, EOF}).Flock(); s != 10 || l != 0 {
		t.Errorf("Flock() = %d, %d", s, l)
	}
}

func TestSplitAndMerge(t *testing.T) {
	var tb Table
	a := &owner{"a"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tb.Lock(bg, Request{Owner: a, Type: WriteLock, Range: rng(0, 100)}))
	// A read lock in the middle splits the write lock in three.
	must(tb.Lock(bg, Request{Owner: a, Type: ReadLock, Range: rng(40, 60)}))
	h := tb.Held()
	if len(h) != 3 || h[0].Range != rng(0, 40) || h[1].Range != rng(40, 60) || h[1].Type != ReadLock || h[2].Range != rng(60, 100) {
		t.Fatalf("after split: %+v", h)
	}
	// Writing it back merges everything into one lock.
	must(tb.Lock(bg, Request{Owner: a, Type: WriteLock, Range: rng(40, 60)}))
	if h := tb.Held(); len(h) != 1 || h[0].Range != rng(0, 100) {
		t.Fatalf("after merge: %+v", h)
	}
	// Adjacent ranges of one type merge.
	must(tb.Lock(bg, Request{Owner: a, Type: WriteLock, Range: rng(100, 200)}))
	if h := tb.Held(); len(h) != 1 || h[0].Range != rng(0, 200) {
		t.Fatalf("after adjacent: %+v", h)
	}
	// Unlocking a hole splits.
	tb.Unlock(a, rng(50, 150))
	if h := tb.Held(); len(h) != 2 || h[0].Range != rng(0, 50) || h[1].Range != rng(150, 200) {
		t.Fatalf("after unlock: %+v", h)
	}
	tb.UnlockAll(a)
	if !tb.Idle() {
		t.Fatal("not idle after UnlockAll")
	}
}

func TestConflicts(t *testing.T) {
	var tb Table
	a, b := &owner{"a"}, &owner{"b"}
	if err := tb.Lock(bg, Request{Owner: a, Type: ReadLock, Range: rng(0, 10)}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Lock(bg, Request{Owner: b, Type: ReadLock, Range: rng(5, 15)}); err != nil {
		t.Fatalf("shared locks conflict: %v", err)
	}
	if err := tb.Lock(bg, Request{Owner: b, Type: WriteLock, Range: rng(5, 15)}); err != linux.EAGAIN {
		t.Fatalf("write over a's read: %v, want EAGAIN", err)
	}
	if err := tb.Lock(bg, Request{Owner: b, Type: WriteLock, Range: rng(10, 15)}); err != nil {
		t.Fatalf("write beside a's read: %v", err)
	}
	l, ok := tb.Test(b, WriteLock, rng(0, EOF))
	if !ok || l.Owner != a || l.Range != rng(0, 10) {
		t.Fatalf("Test = %+v, %v", l, ok)
	}
	if _, ok := tb.Test(a, ReadLock, rng(0, 10)); ok {
		t.Fatal("own lock reported as a conflict")
	}
}

func TestBlockingWakesOnRelease(t *testing.T) {
	var tb Table
	a, b := &owner{"a"}, &owner{"b"}
	tb.Lock(bg, Request{Owner: a, Type: WriteLock, Range: WholeFile})
	done := make(chan error)
	go func() { done <- tb.Lock(bg, Request{Owner: b, Type: ReadLock, Range: rng(0, 1), Block: true}) }()
	select {
	case err := <-done:
		t.Fatalf("acquired while held: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	tb.Unlock(a, WholeFile)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestInterrupt(t *testing.T) {
	var tb Table
	a, b := &owner{"a"}, &owner{"b"}
	tb.Lock(bg, Request{Owner: a, Type: WriteLock, Range: WholeFile})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- tb.Lock(chanBlocker{ctx}, Request{Owner: b, Type: WriteLock, Range: WholeFile, Block: true})
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	tb.UnlockAll(a)
	if !tb.Idle() {
		t.Fatal("interrupted waiter left behind")
	}
}

func TestDeadlock(t *testing.T) {
	var t1, t2 Table
	a, b := &owner{"a"}, &owner{"b"}
	t1.Lock(bg, Request{Owner: a, Type: WriteLock, Range: WholeFile})
	t2.Lock(bg, Request{Owner: b, Type: WriteLock, Range: WholeFile})
	done := make(chan error)
	go func() {
		done <- t2.Lock(bg, Request{Owner: a, Type: WriteLock, Range: WholeFile, Block: true, DetectDeadlock: true})
	}()
	// Wait until a is registered as waiting.
	for deadline := time.Now().Add(5 * time.Second); ; {
		graph.mu.Lock()
		n := len(graph.waiting[Owner(a)])
		graph.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a never waited")
		}
		time.Sleep(time.Millisecond)
	}
	err := t1.Lock(bg, Request{Owner: b, Type: WriteLock, Range: WholeFile, Block: true, DetectDeadlock: true})
	if err != linux.EDEADLK {
		t.Fatalf("b's request: %v, want EDEADLK", err)
	}
	// Without detection (OFD locks) the caller would wait; here b gives
	// up its lock instead and a gets it.
	t2.UnlockAll(b)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestReplaceFirst(t *testing.T) {
	var tb Table
	a, b := &owner{"a"}, &owner{"b"}
	tb.Lock(bg, Request{Owner: a, Type: ReadLock, Range: WholeFile})
	tb.Lock(bg, Request{Owner: b, Type: ReadLock, Range: WholeFile})
	// a's upgrade fails, and like flock(2) loses a's shared lock.
	if err := tb.Lock(bg, Request{Owner: a, Type: WriteLock, Range: WholeFile, ReplaceFirst: true}); err != linux.EAGAIN {
		t.Fatalf("upgrade: %v", err)
	}
	if h := tb.Held(); len(h) != 1 || h[0].Owner != Owner(b) {
		t.Fatalf("held: %+v", h)
	}
}
