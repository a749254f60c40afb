package signalfd

import "appkernel.dev/appkernel/pkg/abi/linux"

// layout is which union member of a siginfo_t is live, as Linux's
// siginfo_layout decides it from the signal and si_code.
type layout int

const (
	layoutKill layout = iota
	layoutTimer
	layoutPoll
	layoutFault
	layoutFaultMCE
	layoutChild
	layoutRT
	layoutSys
)

// BUS_MCEERR_AR and BUS_MCEERR_AO are the SIGBUS codes whose fault
// member carries si_addr_lsb.
const (
	busMCEErrAR = 4
	busMCEErrAO = 5
)

// specificCodes are, per signal, the highest si_code that is specific to
// that signal (NSIGILL, NSIGFPE, ...) and the layout such codes use.
var specificCodes = map[linux.Signal]struct {
	limit  int32
	layout layout
}{
	linux.SIGILL:  {11, layoutFault},
	linux.SIGFPE:  {15, layoutFault},
	linux.SIGSEGV: {10, layoutFault},
	linux.SIGBUS:  {5, layoutFault},
	linux.SIGTRAP: {6, layoutFault},
	linux.SIGCHLD: {6, layoutChild},
	linux.SIGPOLL: {6, layoutPoll},
	linux.SIGSYS:  {2, layoutSys},
}

// nsigPoll is NSIGPOLL: kernel codes up to it use the poll member for any
// signal.
const nsigPoll = 6

func layoutOf(sig linux.Signal, code int32) layout {
	if code > linux.SI_USER && code < linux.SI_KERNEL {
		if s, ok := specificCodes[sig]; ok && code <= s.limit {
			if sig == linux.SIGBUS && code >= busMCEErrAR && code <= busMCEErrAO {
				return layoutFaultMCE
			}
			return s.layout
		}
		if code <= nsigPoll {
			return layoutPoll
		}
		return layoutKill
	}
	switch {
	case code == linux.SI_TIMER:
		return layoutTimer
	case code == linux.SI_SIGIO:
		return layoutPoll
	case code < 0:
		return layoutRT
	}
	return layoutKill
}

// Record converts a dequeued siginfo to the record a signalfd read
// returns, copying the members that the siginfo's layout makes live.
func Record(info *linux.SignalInfo) linux.SignalfdSiginfo {
	r := linux.SignalfdSiginfo{
		Signo: uint32(info.Signo),
		Errno: info.Errno,
		Code:  info.Code,
	}
	switch layoutOf(linux.Signal(info.Signo), info.Code) {
	case layoutKill:
		r.PID, r.UID = uint32(info.PID()), info.UID()
	case layoutTimer:
		r.TID = uint32(info.TimerID())
		r.Overrun = uint32(info.Overrun())
		r.Ptr = info.Sigval()
		r.Int = int32(info.Sigval())
	case layoutPoll:
		r.Band = uint32(info.Band())
		r.FD = info.FD()
	case layoutFault:
		r.Addr = info.Addr()
	case layoutFaultMCE:
		r.Addr = info.Addr()
		// si_addr_lsb is the short after si_addr.
		r.AddrLSB = uint16(info.Fields[8]) | uint16(info.Fields[9])<<8
	case layoutChild:
		r.PID, r.UID = uint32(info.PID()), info.UID()
		r.Status = info.Status()
		r.Utime = uint64(info.Utime())
		r.Stime = uint64(info.Stime())
	case layoutRT:
		r.PID, r.UID = uint32(info.PID()), info.UID()
		r.Ptr = info.Sigval()
		r.Int = int32(info.Sigval())
	case layoutSys:
		r.CallAddr = info.CallAddr()
		r.Syscall = info.Syscall()
		r.Arch = info.Arch()
	}
	return r
}
