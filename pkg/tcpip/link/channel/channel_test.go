package channel

import (
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/tcpip"
)

type collector chan []byte

func (c collector) DeliverFrames(fs [][]byte) {
	for _, f := range fs {
		c <- append([]byte(nil), f...)
	}
}

func (c collector) next(t *testing.T) []byte {
	t.Helper()
	select {
	case f := <-c:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame")
		return nil
	}
}

// TestPair checks delivery, copying, hooks and close.
func TestPair(t *testing.T) {
	a, b := Pair(tcpip.LinkAddress{2, 0, 0, 0, 0, 1}, tcpip.LinkAddress{2, 0, 0, 0, 0, 2}, 1500)
	if a.MTU() != 1500 || b.LinkAddress() != (tcpip.LinkAddress{2, 0, 0, 0, 0, 2}) {
		t.Fatal("MTU or address")
	}
	got := make(collector, 16)
	b.Attach(got)
	buf := []byte("one")
	if err := a.WriteFrames([][]byte{buf, []byte("two")}); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X' // the link copied it
	if f := got.next(t); string(f) != "one" {
		t.Fatalf("got %q", f)
	}
	if f := got.next(t); string(f) != "two" {
		t.Fatalf("got %q", f)
	}
	// A hook that reverses and drops the middle frame.
	a.SetHook(func(fs [][]byte) [][]byte { return [][]byte{fs[2], fs[0]} })
	_ = a.WriteFrames([][]byte{[]byte("1"), []byte("2"), []byte("3")})
	if f := got.next(t); string(f) != "3" {
		t.Fatalf("got %q", f)
	}
	if f := got.next(t); string(f) != "1" {
		t.Fatalf("got %q", f)
	}
	a.SetHook(nil)
	b.Close()
	_ = a.WriteFrames([][]byte{[]byte("late")})
	select {
	case f := <-got:
		t.Fatalf("frame %q after close", f)
	case <-time.After(20 * time.Millisecond):
	}
	if b.Dropped.Load() == 0 {
		t.Fatal("drop after close not counted")
	}
}
