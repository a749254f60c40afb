package linux

// si_code values that say who sent a signal. Values <= 0 mean userspace
// sent it, which matters for permission checks and for what rt_sigqueueinfo
// may forge.
const (
	SI_USER     = 0
	SI_KERNEL   = 0x80
	SI_QUEUE    = -1
	SI_TIMER    = -2
	SI_MESGQ    = -3
	SI_ASYNCIO  = -4
	SI_SIGIO    = -5
	SI_TKILL    = -6
	SI_DETHREAD = -7
	SI_ASYNCNL  = -60
)

// si_code values for SIGILL.
const (
	ILL_ILLOPC   = 1
	ILL_ILLOPN   = 2
	ILL_ILLADR   = 3
	ILL_ILLTRP   = 4
	ILL_PRVOPC   = 5
	ILL_PRVREG   = 6
	ILL_COPROC   = 7
	ILL_BADSTK   = 8
	ILL_BADIADDR = 9
)

// si_code values for SIGFPE.
const (
	FPE_INTDIV   = 1
	FPE_INTOVF   = 2
	FPE_FLTDIV   = 3
	FPE_FLTOVF   = 4
	FPE_FLTUND   = 5
	FPE_FLTRES   = 6
	FPE_FLTINV   = 7
	FPE_FLTSUB   = 8
	FPE_FLTUNK   = 14
	FPE_CONDTRAP = 15
)

// si_code values for SIGSEGV.
const (
	SEGV_MAPERR  = 1
	SEGV_ACCERR  = 2
	SEGV_BNDERR  = 3
	SEGV_PKUERR  = 4
	SEGV_MTEAERR = 8
	SEGV_MTESERR = 9
)

// si_code values for SIGBUS.
const (
	BUS_ADRALN    = 1
	BUS_ADRERR    = 2
	BUS_OBJERR    = 3
	BUS_MCEERR_AR = 4
	BUS_MCEERR_AO = 5
)

// si_code values for SIGTRAP.
const (
	TRAP_BRKPT  = 1
	TRAP_TRACE  = 2
	TRAP_BRANCH = 3
	TRAP_HWBKPT = 4
	TRAP_UNK    = 5
	TRAP_PERF   = 6
)

// si_code values for SIGCHLD, and the event codes of waitid(2).
const (
	CLD_EXITED    = 1
	CLD_KILLED    = 2
	CLD_DUMPED    = 3
	CLD_TRAPPED   = 4
	CLD_STOPPED   = 5
	CLD_CONTINUED = 6
)

// si_code values for SIGIO/SIGPOLL.
const (
	POLL_IN  = 1
	POLL_OUT = 2
	POLL_MSG = 3
	POLL_ERR = 4
	POLL_PRI = 5
	POLL_HUP = 6
)

// SYS_SECCOMP is the si_code of a SIGSYS raised by SECCOMP_RET_TRAP.
const SYS_SECCOMP = 1

// SignalInfo is siginfo_t: three ints, then a union padded so the whole is
// 128 bytes. On 64-bit targets the union starts at offset 16, 8-aligned,
// which Fields reproduces. Which union member is live depends on the
// signal and si_code, so the accessors below name the member they use;
// they read and write little-endian at the member's offset in the union.
type SignalInfo struct {
	Signo  int32
	Errno  int32
	Code   int32
	_      uint32
	Fields [112]byte
}

// SizeofSignalInfo is sizeof(siginfo_t), SI_MAX_SIZE.
const SizeofSignalInfo = 128

// SizeBytes implements marshal.Marshallable.
func (*SignalInfo) SizeBytes() int { return SizeofSignalInfo }

// MarshalBytes implements marshal.Marshallable.
func (s *SignalInfo) MarshalBytes(dst []byte) []byte {
	_ = dst[127]
	le.PutUint32(dst[0:], uint32(s.Signo))
	le.PutUint32(dst[4:], uint32(s.Errno))
	le.PutUint32(dst[8:], uint32(s.Code))
	clear(dst[12:16])
	copy(dst[16:128], s.Fields[:])
	return dst[128:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *SignalInfo) UnmarshalBytes(src []byte) []byte {
	_ = src[127]
	s.Signo = int32(le.Uint32(src[0:]))
	s.Errno = int32(le.Uint32(src[4:]))
	s.Code = int32(le.Uint32(src[8:]))
	copy(s.Fields[:], src[16:128])
	return src[128:]
}

func (s *SignalInfo) u32(off int) uint32       { return le.Uint32(s.Fields[off:]) }
func (s *SignalInfo) setU32(off int, v uint32) { le.PutUint32(s.Fields[off:], v) }
func (s *SignalInfo) u64(off int) uint64       { return le.Uint64(s.Fields[off:]) }
func (s *SignalInfo) setU64(off int, v uint64) { le.PutUint64(s.Fields[off:], v) }

// PID is si_pid (kill, rt, sigchld members).
func (s *SignalInfo) PID() int32 { return int32(s.u32(0)) }

// SetPID sets si_pid.
func (s *SignalInfo) SetPID(pid int32) { s.setU32(0, uint32(pid)) }

// UID is si_uid (kill, rt, sigchld members).
func (s *SignalInfo) UID() uint32 { return s.u32(4) }

// SetUID sets si_uid.
func (s *SignalInfo) SetUID(uid uint32) { s.setU32(4, uid) }

// Sigval is si_value (rt and timer members): the int or pointer given to
// sigqueue(3) or in struct sigevent.
func (s *SignalInfo) Sigval() uint64 { return s.u64(8) }

// SetSigval sets si_value.
func (s *SignalInfo) SetSigval(v uint64) { s.setU64(8, v) }

// TimerID is si_timerid (timer member).
func (s *SignalInfo) TimerID() int32 { return int32(s.u32(0)) }

// SetTimerID sets si_timerid.
func (s *SignalInfo) SetTimerID(id int32) { s.setU32(0, uint32(id)) }

// Overrun is si_overrun (timer member).
func (s *SignalInfo) Overrun() int32 { return int32(s.u32(4)) }

// SetOverrun sets si_overrun.
func (s *SignalInfo) SetOverrun(n int32) { s.setU32(4, uint32(n)) }

// Status is si_status (sigchld member): the exit code for CLD_EXITED,
// otherwise the signal number.
func (s *SignalInfo) Status() int32 { return int32(s.u32(8)) }

// SetStatus sets si_status.
func (s *SignalInfo) SetStatus(v int32) { s.setU32(8, uint32(v)) }

// Utime is si_utime (sigchld member), in clock ticks.
func (s *SignalInfo) Utime() int64 { return int64(s.u64(16)) }

// SetUtime sets si_utime.
func (s *SignalInfo) SetUtime(v int64) { s.setU64(16, uint64(v)) }

// Stime is si_stime (sigchld member), in clock ticks.
func (s *SignalInfo) Stime() int64 { return int64(s.u64(24)) }

// SetStime sets si_stime.
func (s *SignalInfo) SetStime(v int64) { s.setU64(24, uint64(v)) }

// Addr is si_addr (sigfault member: SIGSEGV, SIGBUS, SIGILL, SIGFPE,
// SIGTRAP).
func (s *SignalInfo) Addr() uint64 { return s.u64(0) }

// SetAddr sets si_addr.
func (s *SignalInfo) SetAddr(a uint64) { s.setU64(0, a) }

// Band is si_band (sigpoll member), the poll events.
func (s *SignalInfo) Band() int64 { return int64(s.u64(0)) }

// SetBand sets si_band.
func (s *SignalInfo) SetBand(b int64) { s.setU64(0, uint64(b)) }

// FD is si_fd (sigpoll member).
func (s *SignalInfo) FD() int32 { return int32(s.u32(8)) }

// SetFD sets si_fd.
func (s *SignalInfo) SetFD(fd int32) { s.setU32(8, uint32(fd)) }

// CallAddr is si_call_addr (sigsys member): the address after the
// syscall instruction.
func (s *SignalInfo) CallAddr() uint64 { return s.u64(0) }

// SetCallAddr sets si_call_addr.
func (s *SignalInfo) SetCallAddr(a uint64) { s.setU64(0, a) }

// Syscall is si_syscall (sigsys member).
func (s *SignalInfo) Syscall() int32 { return int32(s.u32(8)) }

// SetSyscall sets si_syscall.
func (s *SignalInfo) SetSyscall(nr int32) { s.setU32(8, uint32(nr)) }

// Arch is si_arch (sigsys member), an AUDIT_ARCH_* value.
func (s *SignalInfo) Arch() uint32 { return s.u32(12) }

// SetArch sets si_arch.
func (s *SignalInfo) SetArch(a uint32) { s.setU32(12, a) }

// SignalfdSiginfo is struct signalfd_siginfo, what read(2) on a signalfd
// returns: a flattened siginfo with every member at a fixed place.
type SignalfdSiginfo struct {
	Signo    uint32
	Errno    int32
	Code     int32
	PID      uint32
	UID      uint32
	FD       int32
	TID      uint32
	Band     uint32
	Overrun  uint32
	Trapno   uint32
	Status   int32
	Int      int32
	Ptr      uint64
	Utime    uint64
	Stime    uint64
	Addr     uint64
	AddrLSB  uint16
	_        uint16
	Syscall  int32
	CallAddr uint64
	Arch     uint32
	_        [28]byte
}

// SizeofSignalfdSiginfo is sizeof(struct signalfd_siginfo).
const SizeofSignalfdSiginfo = 128

// SizeBytes implements marshal.Marshallable.
func (*SignalfdSiginfo) SizeBytes() int { return SizeofSignalfdSiginfo }

// MarshalBytes implements marshal.Marshallable.
func (s *SignalfdSiginfo) MarshalBytes(dst []byte) []byte {
	_ = dst[127]
	le.PutUint32(dst[0:], s.Signo)
	le.PutUint32(dst[4:], uint32(s.Errno))
	le.PutUint32(dst[8:], uint32(s.Code))
	le.PutUint32(dst[12:], s.PID)
	le.PutUint32(dst[16:], s.UID)
	le.PutUint32(dst[20:], uint32(s.FD))
	le.PutUint32(dst[24:], s.TID)
	le.PutUint32(dst[28:], s.Band)
	le.PutUint32(dst[32:], s.Overrun)
	le.PutUint32(dst[36:], s.Trapno)
	le.PutUint32(dst[40:], uint32(s.Status))
	le.PutUint32(dst[44:], uint32(s.Int))
	le.PutUint64(dst[48:], s.Ptr)
	le.PutUint64(dst[56:], s.Utime)
	le.PutUint64(dst[64:], s.Stime)
	le.PutUint64(dst[72:], s.Addr)
	le.PutUint16(dst[80:], s.AddrLSB)
	clear(dst[82:84])
	le.PutUint32(dst[84:], uint32(s.Syscall))
	le.PutUint64(dst[88:], s.CallAddr)
	le.PutUint32(dst[96:], s.Arch)
	clear(dst[100:128])
	return dst[128:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *SignalfdSiginfo) UnmarshalBytes(src []byte) []byte {
	_ = src[127]
	s.Signo = le.Uint32(src[0:])
	s.Errno = int32(le.Uint32(src[4:]))
	s.Code = int32(le.Uint32(src[8:]))
	s.PID = le.Uint32(src[12:])
	s.UID = le.Uint32(src[16:])
	s.FD = int32(le.Uint32(src[20:]))
	s.TID = le.Uint32(src[24:])
	s.Band = le.Uint32(src[28:])
	s.Overrun = le.Uint32(src[32:])
	s.Trapno = le.Uint32(src[36:])
	s.Status = int32(le.Uint32(src[40:]))
	s.Int = int32(le.Uint32(src[44:]))
	s.Ptr = le.Uint64(src[48:])
	s.Utime = le.Uint64(src[56:])
	s.Stime = le.Uint64(src[64:])
	s.Addr = le.Uint64(src[72:])
	s.AddrLSB = le.Uint16(src[80:])
	s.Syscall = int32(le.Uint32(src[84:]))
	s.CallAddr = le.Uint64(src[88:])
	s.Arch = le.Uint32(src[96:])
	return src[128:]
}
