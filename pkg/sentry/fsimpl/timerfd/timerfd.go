// Package timerfd implements timerfd_create(2) files: a timer on a host
// clock whose expirations are counted and read as a 64-bit number, and
// which poll and epoll see as readable once it has expired.
//
// The sandbox never sets the host clock, so TFD_TIMER_CANCEL_ON_SET is
// accepted but a read never fails with ECANCELED.
package timerfd

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// minPeriod bounds how often the Go timer of a periodic timerfd fires.
// Expirations are counted from the clock whenever the file is looked at,
// so a tiny interval costs arithmetic, not a busy goroutine.
const minPeriod = 100 * time.Microsecond

// TFD_IOC_SET_TICKS is _IOW('T', 0, u64): it sets the expiration count
// (for checkpoint/restore tools).
const TFD_IOC_SET_TICKS = 0x40085400

// ValidClock reports whether timerfd_create accepts clock, and whether it
// is an alarm clock, which needs CAP_WAKE_ALARM.
func ValidClock(clock int32) (ok, alarm bool) {
	switch clock {
	case linux.CLOCK_REALTIME, linux.CLOCK_MONOTONIC, linux.CLOCK_BOOTTIME:
		return true, false
	case linux.CLOCK_REALTIME_ALARM, linux.CLOCK_BOOTTIME_ALARM:
		return true, true
	}
	return false, false
}

// TimerFD is the implementation of a timerfd file.
//
// +stateify savable
type TimerFD struct {
	vfs.FileDescriptionDefaultImpl

	queue waiter.Queue

	// clock is the host clock the timer reads: the alarm clocks count
	// like their plain counterparts (the sandbox cannot wake a
	// suspended host).
	clock int32

	// mu guards the fields below.
	mu sync.Mutex // +state:nosave
	// armed says next is a pending expiry; interval is the period, 0
	// for a one-shot timer; both in nanoseconds of clock.
	armed          bool
	next, interval int64
	// ticks counts expirations not yet read.
	ticks uint64
	// gen changes whenever the timer is set, so a Go timer callback of
	// an older setting does nothing.
	gen uint64
	// goTimer wakes the file at next; it does not survive a checkpoint,
	// and the restored file counts expirations when first looked at.
	goTimer *time.Timer // +state:nosave
}

// New returns a disarmed timerfd on clock (which ValidClock accepted).
// flags may hold TFD_NONBLOCK; TFD_CLOEXEC is the caller's.
func New(vfsObj *vfs.VirtualFilesystem, clock int32, flags uint32) *vfs.FileDescription {
	switch clock {
	case linux.CLOCK_REALTIME_ALARM:
		clock = linux.CLOCK_REALTIME
	case linux.CLOCK_BOOTTIME_ALARM:
		clock = linux.CLOCK_BOOTTIME
	}
	tfd := &TimerFD{clock: clock}
	fd := &vfs.FileDescription{}
	fd.Init(tfd, linux.O_RDWR|flags&linux.TFD_NONBLOCK, vfsObj.NewAnonVirtualDentry("timerfd"), &vfs.FileDescriptionOptions{Stream: true})
	return fd
}

// FromFD returns the timerfd behind fd, or false.
func FromFD(fd *vfs.FileDescription) (*TimerFD, bool) {
	t, ok := fd.Impl().(*TimerFD)
	return t, ok
}

func (t *TimerFD) now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(t.clock, &ts); err != nil {
		// Only the clocks ValidClock accepts get here, and those
		// always read.
		panic("timerfd: clock_gettime: " + err.Error())
	}
	return ts.Nano()
}

// updateLocked counts the expirations up to now and moves next past it,
// or disarms a one-shot timer that expired. Requires t.mu.
func (t *TimerFD) updateLocked(now int64) {
	if !t.armed || now < t.next {
		return
	}
	n := uint64(1)
	if t.interval > 0 {
		n += uint64((now - t.next) / t.interval)
		t.next += int64(n) * t.interval
	} else {
		t.armed = false
	}
	t.ticks += n
}

// scheduleLocked arms the Go timer for the next expiry. Requires t.mu.
func (t *TimerFD) scheduleLocked(now int64) {
	if t.goTimer != nil {
		t.goTimer.Stop()
		t.goTimer = nil
	}
	if !t.armed {
		return
	}
	d := time.Duration(t.next - now)
	if t.ticks > 0 && t.interval > 0 {
		// Readers are already woken; nothing is gained by waking
		// again before they read, beyond keeping the count current.
		d = max(d, minPeriod)
	}
	gen := t.gen
	t.goTimer = time.AfterFunc(max(d, 0), func() { t.fire(gen) })
}

// fire runs when the Go timer of setting gen expires.
func (t *TimerFD) fire(gen uint64) {
	t.mu.Lock()
	if gen != t.gen {
		t.mu.Unlock()
		return
	}
	now := t.now()
	t.updateLocked(now)
	t.scheduleLocked(now)
	ready := t.ticks > 0
	t.mu.Unlock()
	if ready {
		t.queue.Notify(waiter.ReadableEvents)
	}
}

// Spec is a timer setting: the time to the next expiry (0: disarmed) and
// the period, in nanoseconds.
type Spec struct {
	Value, Interval int64
}

// SetTime implements timerfd_settime(2): value is the first expiry
// (absolute on the timer's clock if abs, else relative; 0 disarms) and
// interval the period. It returns the previous setting as GetTime does,
// and clears the expiration count.
func (t *TimerFD) SetTime(value, interval int64, abs bool) Spec {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	old := t.getLocked(now)
	t.gen++
	t.ticks = 0
	t.armed = value != 0
	t.interval = interval
	if t.armed {
		if abs {
			t.next = value
		} else {
			t.next = now + value
			if t.next < now {
				t.next = 1<<63 - 1
			}
		}
	}
	t.scheduleLocked(now)
	return old
}

// GetTime implements timerfd_gettime(2): the time left to the next expiry
// (0 when disarmed) and the period.
func (t *TimerFD) GetTime() Spec {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.getLocked(t.now())
}

func (t *TimerFD) getLocked(now int64) Spec {
	t.updateLocked(now)
	s := Spec{Interval: t.interval}
	if t.armed {
		s.Value = max(t.next-now, 1)
	}
	return s
}

// Read implements vfs.FileDescriptionImpl: it waits for at least one
// expiration and returns the count as 8 bytes, clearing it.
func (t *TimerFD) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	if dst.NumBytes() < 8 {
		return 0, linux.EINVAL
	}
	for {
		t.mu.Lock()
		now := t.now()
		t.updateLocked(now)
		if t.ticks > 0 {
			v := t.ticks
			t.ticks = 0
			// The Go timer may have been stretched while ticks
			// were pending; run it at the real expiry again.
			t.scheduleLocked(now)
			t.mu.Unlock()
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], v)
			if n, err := dst.CopyOut(ctx, b[:]); n < 8 {
				if err == nil {
					err = linux.EFAULT
				}
				return 0, err
			}
			return 8, nil
		}
		if opts.Nonblocking {
			t.mu.Unlock()
			return 0, linux.EAGAIN
		}
		w, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
		t.queue.EventRegister(w)
		t.mu.Unlock()
		err := vfs.BlockerFromContext(ctx).Block(ch)
		t.queue.EventUnregister(w)
		if err != nil {
			return 0, err
		}
	}
}

// Ioctl implements vfs.FileDescriptionImpl: TFD_IOC_SET_TICKS.
func (t *TimerFD) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	if cmd != TFD_IOC_SET_TICKS {
		return 0, linux.ENOTTY
	}
	var b [8]byte
	if _, err := mem.CopyInBytes(ctx, arg, b[:]); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(b[:])
	if v == 0 {
		return 0, linux.EINVAL
	}
	t.mu.Lock()
	t.updateLocked(t.now())
	t.ticks = v
	t.mu.Unlock()
	t.queue.Notify(waiter.ReadableEvents)
	return 0, nil
}

// Readiness implements waiter.Waitable.
func (t *TimerFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.updateLocked(t.now())
	if t.ticks > 0 {
		return mask & waiter.ReadableEvents
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (t *TimerFD) EventRegister(e *waiter.Entry) error {
	t.queue.EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (t *TimerFD) EventUnregister(e *waiter.Entry) { t.queue.EventUnregister(e) }

// Release implements vfs.FileDescriptionImpl: the timer stops.
func (t *TimerFD) Release(context.Context) {
	t.mu.Lock()
	t.gen++
	t.armed = false
	if t.goTimer != nil {
		t.goTimer.Stop()
		t.goTimer = nil
	}
	t.mu.Unlock()
}
