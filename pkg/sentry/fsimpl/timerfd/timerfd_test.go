package timerfd

import (
	"context"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

func TestCountsMissedPeriods(t *testing.T) {
	tfd := &TimerFD{clock: linux.CLOCK_MONOTONIC, armed: true, next: 1000, interval: 100}
	tfd.updateLocked(999)
	if tfd.ticks != 0 {
		t.Fatalf("ticks before expiry = %d", tfd.ticks)
	}
	tfd.updateLocked(1250)
	if tfd.ticks != 3 || tfd.next != 1300 || !tfd.armed {
		t.Fatalf("after 2.5 periods: ticks %d next %d armed %v; want 3 1300 true", tfd.ticks, tfd.next, tfd.armed)
	}
	one := &TimerFD{armed: true, next: 10}
	one.updateLocked(50)
	if one.ticks != 1 || one.armed {
		t.Fatalf("one-shot: ticks %d armed %v", one.ticks, one.armed)
	}
}

func TestExpiryNotifiesAndReads(t *testing.T) {
	ctx := context.Background()
	fd := New(vfs.New(), linux.CLOCK_MONOTONIC, linux.TFD_NONBLOCK)
	defer fd.DecRef(ctx)
	tfd, _ := FromFD(fd)
	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	fd.EventRegister(e)
	defer fd.EventUnregister(e)
	tfd.SetTime(int64(5*time.Millisecond), 0, false)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification at expiry")
	}
	var b [8]byte
	if n, err := fd.Read(ctx, vfs.BytesIOSequence(b[:]), vfs.ReadOptions{}); n != 8 || err != nil || b[0] != 1 {
		t.Fatalf("Read = %d, %v, %v", n, err, b)
	}
	if _, err := fd.Read(ctx, vfs.BytesIOSequence(b[:]), vfs.ReadOptions{}); err != linux.EAGAIN {
		t.Fatalf("second Read: %v, want EAGAIN", err)
	}
	if s := tfd.GetTime(); s.Value != 0 {
		t.Fatalf("expired one-shot reports %v left", s.Value)
	}
}
