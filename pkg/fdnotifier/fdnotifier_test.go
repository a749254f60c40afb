package fdnotifier

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/waiter"
)

func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no notification for %s", what)
	}
}

func TestNotifiesReadableAndWritable(t *testing.T) {
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	r, w := pipe(t)
	var qr, qw waiter.Queue
	if err := n.AddFD(int32(r), &qr); err != nil {
		t.Fatal(err)
	}
	if err := n.AddFD(int32(w), &qw); err != nil {
		t.Fatal(err)
	}
	if err := n.AddFD(int32(r), &qr); err == nil {
		t.Error("second AddFD of the same fd succeeded")
	}

	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	qr.EventRegister(e)
	if got := Readiness(int32(r), waiter.ReadableEvents); got != 0 {
		t.Fatalf("empty pipe readiness = %#x", got)
	}
	if _, err := unix.Write(w, []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ch, "data written to the pipe")
	if got := Readiness(int32(r), waiter.ReadableEvents); got&waiter.EventIn == 0 {
		t.Fatalf("readiness after write = %#x", got)
	}
	qr.EventUnregister(e)

	// Fill the pipe, then draining it must wake a writer.
	buf := make([]byte, 1<<16)
	for {
		if _, err := unix.Write(w, buf); err == unix.EAGAIN {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if got := Readiness(int32(w), waiter.WritableEvents); got != 0 {
		t.Fatalf("full pipe writable readiness = %#x", got)
	}
	ew, chw := waiter.NewChannelEntry(waiter.WritableEvents)
	qw.EventRegister(ew)
	for {
		if _, err := unix.Read(r, buf); err == unix.EAGAIN {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, chw, "pipe drained")
	qw.EventUnregister(ew)

	// Closing the write end is a hang-up for the reader.
	eh, chh := waiter.NewChannelEntry(waiter.ReadableEvents)
	qr.EventRegister(eh)
	n.RemoveFD(int32(w))
	unix.Close(w)
	waitFor(t, chh, "hang-up")
	if got := Readiness(int32(r), waiter.ReadableEvents); got&waiter.EventHUp == 0 {
		t.Fatalf("readiness after close = %#x, want EventHUp", got)
	}
}

func TestRemoveFDStopsNotifications(t *testing.T) {
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	r, w := pipe(t)
	var q waiter.Queue
	if err := n.AddFD(int32(r), &q); err != nil {
		t.Fatal(err)
	}
	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	q.EventRegister(e)
	n.RemoveFD(int32(r))
	n.RemoveFD(int32(r)) // a second removal is harmless
	unix.Write(w, []byte("x"))
	select {
	case <-ch:
		t.Fatal("notified after RemoveFD")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestRegularFileNotPollable(t *testing.T) {
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	f, err := os.CreateTemp(t.TempDir(), "reg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var q waiter.Queue
	if err := n.AddFD(int32(f.Fd()), &q); err != ErrNotPollable {
		t.Fatalf("AddFD(regular file) = %v, want ErrNotPollable", err)
	}
	if got := Readiness(int32(f.Fd()), waiter.ReadableEvents|waiter.WritableEvents); got != waiter.ReadableEvents|waiter.WritableEvents {
		t.Fatalf("regular file readiness = %#x", got)
	}
}

func TestSetNonblocking(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	old, err := SetNonblocking(int32(p[0]), true)
	if err != nil || old&unix.O_NONBLOCK != 0 {
		t.Fatalf("SetNonblocking = %#x, %v", old, err)
	}
	fl, _ := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0)
	if fl&unix.O_NONBLOCK == 0 {
		t.Fatal("O_NONBLOCK not set")
	}
	if old, err = SetNonblocking(int32(p[0]), false); err != nil || old&unix.O_NONBLOCK == 0 {
		t.Fatalf("SetNonblocking(false) = %#x, %v", old, err)
	}
}

func TestCloseEndsGoroutine(t *testing.T) {
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	n.Close()
	select {
	case <-n.done:
	default:
		t.Fatal("goroutine still running after Close")
	}
	var q waiter.Queue
	if err := n.AddFD(0, &q); err == nil {
		t.Fatal("AddFD after Close succeeded")
	}
}
