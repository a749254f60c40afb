package linux

import "time"

// Clock IDs for clock_gettime(2) and friends.
const (
	CLOCK_REALTIME           = 0
	CLOCK_MONOTONIC          = 1
	CLOCK_PROCESS_CPUTIME_ID = 2
	CLOCK_THREAD_CPUTIME_ID  = 3
	CLOCK_MONOTONIC_RAW      = 4
	CLOCK_REALTIME_COARSE    = 5
	CLOCK_MONOTONIC_COARSE   = 6
	CLOCK_BOOTTIME           = 7
	CLOCK_REALTIME_ALARM     = 8
	CLOCK_BOOTTIME_ALARM     = 9
	CLOCK_TAI                = 11
)

// Dynamic clock IDs: a negative clockid_t encodes either a process/thread
// CPU clock for a given PID/TID or a file descriptor (posix clocks). The low
// three bits say which.
const (
	CPUCLOCK_PROF  = 0
	CPUCLOCK_VIRT  = 1
	CPUCLOCK_SCHED = 2
	CPUCLOCK_MAX   = 3
	CLOCKFD        = CPUCLOCK_MAX
	// CPUCLOCK_PERTHREAD_MASK is set in the clock ID when it names a thread
	// rather than a process.
	CPUCLOCK_PERTHREAD_MASK = 4
	CPUCLOCK_CLOCK_MASK     = 3
)

// Flags for clock_nanosleep(2) and timer_settime(2).
const TIMER_ABSTIME = 0x1

// Timers for getitimer(2)/setitimer(2).
const (
	ITIMER_REAL    = 0
	ITIMER_VIRTUAL = 1
	ITIMER_PROF    = 2
)

// Flags for timerfd_create(2) and timerfd_settime(2). The create flags are
// O_CLOEXEC and O_NONBLOCK, which differ per architecture only in theory:
// both targets use the asm-generic values.
const (
	TFD_TIMER_ABSTIME       = 0x1
	TFD_TIMER_CANCEL_ON_SET = 0x2
	TFD_CLOEXEC             = O_CLOEXEC
	TFD_NONBLOCK            = O_NONBLOCK
)

// Unit conversions used when converting between the ABI time structs and
// time.Duration.
const (
	NsecPerSec  = int64(time.Second)
	NsecPerUsec = int64(time.Microsecond)
	UsecPerSec  = int64(time.Second / time.Microsecond)
)

// CLK_TCK is the tick rate that times(2), /proc/[pid]/stat and
// sysconf(_SC_CLK_TCK) report (USER_HZ, fixed at 100 for the ABI).
const CLK_TCK = 100

// Timespec is struct timespec (64-bit time_t and long on both targets).
type Timespec struct {
	Sec  int64
	Nsec int64
}

// SizeofTimespec is the size of struct timespec.
const SizeofTimespec = 16

// SizeBytes implements marshal.Marshallable.
func (*Timespec) SizeBytes() int { return SizeofTimespec }

// MarshalBytes implements marshal.Marshallable.
func (t *Timespec) MarshalBytes(dst []byte) []byte {
	_ = dst[15]
	le.PutUint64(dst[0:], uint64(t.Sec))
	le.PutUint64(dst[8:], uint64(t.Nsec))
	return dst[16:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (t *Timespec) UnmarshalBytes(src []byte) []byte {
	_ = src[15]
	t.Sec = int64(le.Uint64(src[0:]))
	t.Nsec = int64(le.Uint64(src[8:]))
	return src[16:]
}

// Valid reports whether Nsec is in range, which syscalls taking a timespec
// check before anything else (returning EINVAL otherwise).
func (t Timespec) Valid() bool {
	return t.Nsec >= 0 && t.Nsec < NsecPerSec
}

// ToNsec returns the timespec in nanoseconds, saturating instead of
// overflowing for absurdly large values applications may pass.
func (t Timespec) ToNsec() int64 {
	const maxSec = (1<<63 - 1) / NsecPerSec
	if t.Sec > maxSec {
		return 1<<63 - 1
	}
	if t.Sec < -maxSec {
		return -1 << 63
	}
	return t.Sec*NsecPerSec + t.Nsec
}

// ToDuration is ToNsec as a time.Duration.
func (t Timespec) ToDuration() time.Duration { return time.Duration(t.ToNsec()) }

// NsecToTimespec splits ns into a Timespec with 0 <= Nsec < 1e9.
func NsecToTimespec(ns int64) Timespec {
	sec, nsec := ns/NsecPerSec, ns%NsecPerSec
	if nsec < 0 {
		sec--
		nsec += NsecPerSec
	}
	return Timespec{Sec: sec, Nsec: nsec}
}

// DurationToTimespec is NsecToTimespec for a time.Duration.
func DurationToTimespec(d time.Duration) Timespec { return NsecToTimespec(int64(d)) }

// UTIME_NOW and UTIME_OMIT are special Nsec values for utimensat(2).
const (
	UTIME_NOW  = (1 << 30) - 1
	UTIME_OMIT = (1 << 30) - 2
)

// Timeval is struct timeval.
type Timeval struct {
	Sec  int64
	Usec int64
}

// SizeofTimeval is the size of struct timeval.
const SizeofTimeval = 16

// SizeBytes implements marshal.Marshallable.
func (*Timeval) SizeBytes() int { return SizeofTimeval }

// MarshalBytes implements marshal.Marshallable.
func (t *Timeval) MarshalBytes(dst []byte) []byte {
	_ = dst[15]
	le.PutUint64(dst[0:], uint64(t.Sec))
	le.PutUint64(dst[8:], uint64(t.Usec))
	return dst[16:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (t *Timeval) UnmarshalBytes(src []byte) []byte {
	_ = src[15]
	t.Sec = int64(le.Uint64(src[0:]))
	t.Usec = int64(le.Uint64(src[8:]))
	return src[16:]
}

// Valid reports whether Usec is in range.
func (t Timeval) Valid() bool { return t.Usec >= 0 && t.Usec < UsecPerSec }

// ToNsec returns the timeval in nanoseconds, saturating on overflow.
func (t Timeval) ToNsec() int64 {
	return Timespec{Sec: t.Sec, Nsec: t.Usec * NsecPerUsec}.ToNsec()
}

// NsecToTimeval converts ns to a Timeval, truncating to microseconds.
func NsecToTimeval(ns int64) Timeval {
	ts := NsecToTimespec(ns)
	return Timeval{Sec: ts.Sec, Usec: ts.Nsec / NsecPerUsec}
}

// Itimerspec is struct itimerspec (timer_settime, timerfd_settime).
type Itimerspec struct {
	Interval Timespec
	Value    Timespec
}

// SizeBytes implements marshal.Marshallable.
func (*Itimerspec) SizeBytes() int { return 2 * SizeofTimespec }

// MarshalBytes implements marshal.Marshallable.
func (t *Itimerspec) MarshalBytes(dst []byte) []byte {
	return t.Value.MarshalBytes(t.Interval.MarshalBytes(dst))
}

// UnmarshalBytes implements marshal.Marshallable.
func (t *Itimerspec) UnmarshalBytes(src []byte) []byte {
	return t.Value.UnmarshalBytes(t.Interval.UnmarshalBytes(src))
}

// Itimerval is struct itimerval (getitimer, setitimer).
type Itimerval struct {
	Interval Timeval
	Value    Timeval
}

// SizeBytes implements marshal.Marshallable.
func (*Itimerval) SizeBytes() int { return 2 * SizeofTimeval }

// MarshalBytes implements marshal.Marshallable.
func (t *Itimerval) MarshalBytes(dst []byte) []byte {
	return t.Value.MarshalBytes(t.Interval.MarshalBytes(dst))
}

// UnmarshalBytes implements marshal.Marshallable.
func (t *Itimerval) UnmarshalBytes(src []byte) []byte {
	return t.Value.UnmarshalBytes(t.Interval.UnmarshalBytes(src))
}

// Timezone is struct timezone, still accepted by gettimeofday(2).
type Timezone struct {
	Minuteswest int32
	Dsttime     int32
}

// SizeBytes implements marshal.Marshallable.
func (*Timezone) SizeBytes() int { return 8 }

// MarshalBytes implements marshal.Marshallable.
func (t *Timezone) MarshalBytes(dst []byte) []byte {
	_ = dst[7]
	le.PutUint32(dst[0:], uint32(t.Minuteswest))
	le.PutUint32(dst[4:], uint32(t.Dsttime))
	return dst[8:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (t *Timezone) UnmarshalBytes(src []byte) []byte {
	_ = src[7]
	t.Minuteswest = int32(le.Uint32(src[0:]))
	t.Dsttime = int32(le.Uint32(src[4:]))
	return src[8:]
}

// Tms is struct tms, the result of times(2), in clock ticks (CLK_TCK).
type Tms struct {
	UTime  int64
	STime  int64
	CUTime int64
	CSTime int64
}

// SizeBytes implements marshal.Marshallable.
func (*Tms) SizeBytes() int { return 32 }

// MarshalBytes implements marshal.Marshallable.
func (t *Tms) MarshalBytes(dst []byte) []byte {
	_ = dst[31]
	le.PutUint64(dst[0:], uint64(t.UTime))
	le.PutUint64(dst[8:], uint64(t.STime))
	le.PutUint64(dst[16:], uint64(t.CUTime))
	le.PutUint64(dst[24:], uint64(t.CSTime))
	return dst[32:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (t *Tms) UnmarshalBytes(src []byte) []byte {
	_ = src[31]
	t.UTime = int64(le.Uint64(src[0:]))
	t.STime = int64(le.Uint64(src[8:]))
	t.CUTime = int64(le.Uint64(src[16:]))
	t.CSTime = int64(le.Uint64(src[24:]))
	return src[32:]
}
