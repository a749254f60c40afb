package linux

import "strconv"

// Signal is a signal number. Signals 1..31 are standard signals, 32..64
// real-time ones; the numbering is asm-generic's, shared by amd64 and arm64.
type Signal int

// Standard signals.
const (
	SIGHUP    Signal = 1
	SIGINT    Signal = 2
	SIGQUIT   Signal = 3
	SIGILL    Signal = 4
	SIGTRAP   Signal = 5
	SIGABRT   Signal = 6
	SIGIOT    Signal = 6
	SIGBUS    Signal = 7
	SIGFPE    Signal = 8
	SIGKILL   Signal = 9
	SIGUSR1   Signal = 10
	SIGSEGV   Signal = 11
	SIGUSR2   Signal = 12
	SIGPIPE   Signal = 13
	SIGALRM   Signal = 14
	SIGTERM   Signal = 15
	SIGSTKFLT Signal = 16
	SIGCHLD   Signal = 17
	SIGCLD    Signal = 17
	SIGCONT   Signal = 18
	SIGSTOP   Signal = 19
	SIGTSTP   Signal = 20
	SIGTTIN   Signal = 21
	SIGTTOU   Signal = 22
	SIGURG    Signal = 23
	SIGXCPU   Signal = 24
	SIGXFSZ   Signal = 25
	SIGVTALRM Signal = 26
	SIGPROF   Signal = 27
	SIGWINCH  Signal = 28
	SIGIO     Signal = 29
	SIGPOLL   Signal = 29
	SIGPWR    Signal = 30
	SIGSYS    Signal = 31
)

// Real-time signal range and table size. glibc reserves the first two or
// three real-time signals for itself and reports a higher SIGRTMIN to
// programs; the kernel ABI value is 32.
const (
	SIGRTMIN Signal = 32
	SIGRTMAX Signal = 64
	// NumSignals is _NSIG: the highest signal number, and the number of
	// bits in a kernel sigset_t.
	NumSignals = 64
)

var signalNames = [...]string{
	SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
	SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
	SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
	SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGSTKFLT: "SIGSTKFLT",
	SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP",
	SIGTTIN: "SIGTTIN", SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", SIGXCPU: "SIGXCPU",
	SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM", SIGPROF: "SIGPROF", SIGWINCH: "SIGWINCH",
	SIGIO: "SIGIO", SIGPWR: "SIGPWR", SIGSYS: "SIGSYS",
}

// IsValid reports whether s is a signal number a syscall may accept as a
// real signal (signal 0 is "check permissions only" and not valid here).
func (s Signal) IsValid() bool { return s > 0 && s <= NumSignals }

// IsStandard reports whether s is one of the non-queueing signals 1..31.
func (s Signal) IsStandard() bool { return s > 0 && s < SIGRTMIN }

// IsRealtime reports whether s is in SIGRTMIN..SIGRTMAX.
func (s Signal) IsRealtime() bool { return s >= SIGRTMIN && s <= SIGRTMAX }

// Mask is the SignalSet with only s.
func (s Signal) Mask() SignalSet { return SignalSet(1) << uint(s-1) }

// String returns the name strace uses: "SIGSEGV", "SIGRT_3" for SIGRTMIN+3.
func (s Signal) String() string {
	switch {
	case s.IsStandard():
		return signalNames[s]
	case s.IsRealtime():
		return "SIGRT_" + strconv.Itoa(int(s-SIGRTMIN))
	}
	return "signal " + strconv.Itoa(int(s))
}

// SignalAct is what happens when a signal with handler SIG_DFL is
// delivered.
type SignalAct int

// Default actions, from signal(7).
const (
	SignalActTerm SignalAct = iota
	SignalActCore
	SignalActIgnore
	SignalActStop
	SignalActContinue
)

var defaultActions = [...]SignalAct{
	SIGHUP: SignalActTerm, SIGINT: SignalActTerm, SIGQUIT: SignalActCore,
	SIGILL: SignalActCore, SIGTRAP: SignalActCore, SIGABRT: SignalActCore,
	SIGBUS: SignalActCore, SIGFPE: SignalActCore, SIGKILL: SignalActTerm,
	SIGUSR1: SignalActTerm, SIGSEGV: SignalActCore, SIGUSR2: SignalActTerm,
	SIGPIPE: SignalActTerm, SIGALRM: SignalActTerm, SIGTERM: SignalActTerm,
	SIGSTKFLT: SignalActTerm, SIGCHLD: SignalActIgnore, SIGCONT: SignalActContinue,
	SIGSTOP: SignalActStop, SIGTSTP: SignalActStop, SIGTTIN: SignalActStop,
	SIGTTOU: SignalActStop, SIGURG: SignalActIgnore, SIGXCPU: SignalActCore,
	SIGXFSZ: SignalActCore, SIGVTALRM: SignalActTerm, SIGPROF: SignalActTerm,
	SIGWINCH: SignalActIgnore, SIGIO: SignalActTerm, SIGPWR: SignalActTerm,
	SIGSYS: SignalActCore,
}

// DefaultAction returns the action SIG_DFL takes for s. Real-time signals
// terminate.
func (s Signal) DefaultAction() SignalAct {
	if s.IsStandard() {
		return defaultActions[s]
	}
	return SignalActTerm
}

// String names the action as signal(7) does.
func (a SignalAct) String() string {
	switch a {
	case SignalActTerm:
		return "Term"
	case SignalActCore:
		return "Core"
	case SignalActIgnore:
		return "Ign"
	case SignalActStop:
		return "Stop"
	case SignalActContinue:
		return "Cont"
	}
	return "SignalAct(" + strconv.Itoa(int(a)) + ")"
}

// SignalSet is the kernel's sigset_t: one bit per signal, bit n-1 for
// signal n. The kernel's is 64 bits on both targets; glibc's 1024-bit
// sigset_t is a userspace matter, and rt_sig* syscalls reject any other
// sigsetsize than SignalSetSize.
type SignalSet uint64

// SignalSetSize is sizeof(kernel sigset_t).
const SignalSetSize = 8

// UnblockableSignals can be neither blocked nor caught nor ignored.
const UnblockableSignals = SignalSet(1<<(SIGKILL-1) | 1<<(SIGSTOP-1))

// MakeSignalSet returns the set holding sigs.
func MakeSignalSet(sigs ...Signal) SignalSet {
	var s SignalSet
	for _, sig := range sigs {
		s |= sig.Mask()
	}
	return s
}

// Has reports whether sig is in s.
func (s SignalSet) Has(sig Signal) bool { return sig.IsValid() && s&sig.Mask() != 0 }

// SizeBytes implements marshal.Marshallable.
func (*SignalSet) SizeBytes() int { return SignalSetSize }

// MarshalBytes implements marshal.Marshallable.
func (s *SignalSet) MarshalBytes(dst []byte) []byte {
	le.PutUint64(dst, uint64(*s))
	return dst[8:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *SignalSet) UnmarshalBytes(src []byte) []byte {
	*s = SignalSet(le.Uint64(src))
	return src[8:]
}

// How values for rt_sigprocmask(2).
const (
	SIG_BLOCK   = 0
	SIG_UNBLOCK = 1
	SIG_SETMASK = 2
)

// Special handler values for SigAction.Handler.
const (
	SIG_DFL = 0
	SIG_IGN = 1
	SIG_ERR = ^uint64(0)
)

// Flags of struct sigaction's sa_flags. SA_RESTORER says sa_restorer holds
// the code that calls rt_sigreturn when the handler returns; libc always
// sets it. Without it amd64 cannot deliver the signal at all (the frame
// setup fails and the task gets SIGSEGV), while arm64 falls back to a
// trampoline in the vDSO.
const (
	SA_NOCLDSTOP      = 0x00000001
	SA_NOCLDWAIT      = 0x00000002
	SA_SIGINFO        = 0x00000004
	SA_UNSUPPORTED    = 0x00000400
	SA_EXPOSE_TAGBITS = 0x00000800
	SA_RESTORER       = 0x04000000
	SA_ONSTACK        = 0x08000000
	SA_RESTART        = 0x10000000
	SA_NODEFER        = 0x40000000
	SA_RESETHAND      = 0x80000000
	SA_NOMASK         = SA_NODEFER
	SA_ONESHOT        = SA_RESETHAND
)

// SigAction is the kernel's struct sigaction as rt_sigaction(2) reads and
// writes it. It is not glibc's struct sigaction, whose mask is 128 bytes
// and whose fields are in another order. amd64 and arm64 both have an
// sa_restorer field and so share this layout.
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     SignalSet
}

// SizeofSigAction is sizeof(struct sigaction) as the kernel sees it.
const SizeofSigAction = 32

// SizeBytes implements marshal.Marshallable.
func (*SigAction) SizeBytes() int { return SizeofSigAction }

// MarshalBytes implements marshal.Marshallable.
func (s *SigAction) MarshalBytes(dst []byte) []byte {
	_ = dst[31]
	le.PutUint64(dst[0:], s.Handler)
	le.PutUint64(dst[8:], s.Flags)
	le.PutUint64(dst[16:], s.Restorer)
	le.PutUint64(dst[24:], uint64(s.Mask))
	return dst[32:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *SigAction) UnmarshalBytes(src []byte) []byte {
	_ = src[31]
	s.Handler = le.Uint64(src[0:])
	s.Flags = le.Uint64(src[8:])
	s.Restorer = le.Uint64(src[16:])
	s.Mask = SignalSet(le.Uint64(src[24:]))
	return src[32:]
}

// Flags of SignalStack.Flags (sigaltstack(2)).
const (
	SS_ONSTACK    = 1
	SS_DISABLE    = 2
	SS_AUTODISARM = 1 << 31
	SS_FLAG_BITS  = SS_AUTODISARM
)

// SignalStack is stack_t, the argument of sigaltstack(2) and part of
// ucontext.
type SignalStack struct {
	Addr  uint64
	Flags int32
	_     uint32
	Size  uint64
}

// SizeBytes implements marshal.Marshallable.
func (*SignalStack) SizeBytes() int { return 24 }

// MarshalBytes implements marshal.Marshallable.
func (s *SignalStack) MarshalBytes(dst []byte) []byte {
	_ = dst[23]
	le.PutUint64(dst[0:], s.Addr)
	le.PutUint32(dst[8:], uint32(s.Flags))
	clear(dst[12:16])
	le.PutUint64(dst[16:], s.Size)
	return dst[24:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *SignalStack) UnmarshalBytes(src []byte) []byte {
	_ = src[23]
	s.Addr = le.Uint64(src[0:])
	s.Flags = int32(le.Uint32(src[8:]))
	s.Size = le.Uint64(src[16:])
	return src[24:]
}

// Contains reports whether sp is inside the stack (the kernel treats the
// top address as inside, because the stack pointer can equal it before
// the first push).
func (s SignalStack) Contains(sp uint64) bool {
	return s.Addr < sp && sp <= s.Addr+s.Size
}

// Notification methods of struct sigevent (timer_create, mq_notify).
const (
	SIGEV_SIGNAL    = 0
	SIGEV_NONE      = 1
	SIGEV_THREAD    = 2
	SIGEV_THREAD_ID = 4
)

// Sigevent is struct sigevent. The union after Notify is 48 bytes; the
// kernel only reads its first int, the target TID for SIGEV_THREAD_ID.
// SIGEV_THREAD is implemented by libc and the kernel sees SIGEV_SIGNAL.
type Sigevent struct {
	Value  uint64
	Signo  int32
	Notify int32
	Tid    int32
	_      [44]byte
}

// SizeofSigevent is sizeof(struct sigevent).
const SizeofSigevent = 64

// SizeBytes implements marshal.Marshallable.
func (*Sigevent) SizeBytes() int { return SizeofSigevent }

// MarshalBytes implements marshal.Marshallable.
func (s *Sigevent) MarshalBytes(dst []byte) []byte {
	_ = dst[63]
	le.PutUint64(dst[0:], s.Value)
	le.PutUint32(dst[8:], uint32(s.Signo))
	le.PutUint32(dst[12:], uint32(s.Notify))
	le.PutUint32(dst[16:], uint32(s.Tid))
	clear(dst[20:64])
	return dst[64:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *Sigevent) UnmarshalBytes(src []byte) []byte {
	_ = src[63]
	s.Value = le.Uint64(src[0:])
	s.Signo = int32(le.Uint32(src[8:]))
	s.Notify = int32(le.Uint32(src[12:]))
	s.Tid = int32(le.Uint32(src[16:]))
	return src[64:]
}
