package signalfd

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestRecordLayouts(t *testing.T) {
	kill := linux.SignalInfo{Signo: int32(linux.SIGUSR1), Code: linux.SI_USER}
	kill.SetPID(7)
	kill.SetUID(1000)
	if r := Record(&kill); r.PID != 7 || r.UID != 1000 || r.Signo != uint32(linux.SIGUSR1) || r.Ptr != 0 {
		t.Errorf("kill: %+v", r)
	}

	q := linux.SignalInfo{Signo: int32(linux.SIGRTMIN), Code: linux.SI_QUEUE}
	q.SetPID(9)
	q.SetSigval(0x1_0000_04d2)
	if r := Record(&q); r.PID != 9 || r.Int != 1234 || r.Ptr != 0x1_0000_04d2 {
		t.Errorf("sigqueue: %+v", r)
	}

	tm := linux.SignalInfo{Signo: int32(linux.SIGALRM), Code: linux.SI_TIMER}
	tm.SetTimerID(3)
	tm.SetOverrun(2)
	if r := Record(&tm); r.TID != 3 || r.Overrun != 2 || r.PID != 0 {
		t.Errorf("timer: %+v", r)
	}

	chld := linux.SignalInfo{Signo: int32(linux.SIGCHLD), Code: linux.CLD_EXITED}
	chld.SetPID(11)
	chld.SetStatus(3)
	chld.SetUtime(5)
	if r := Record(&chld); r.PID != 11 || r.Status != 3 || r.Utime != 5 {
		t.Errorf("child: %+v", r)
	}

	segv := linux.SignalInfo{Signo: int32(linux.SIGSEGV), Code: linux.SEGV_MAPERR}
	segv.SetAddr(0xdead000)
	if r := Record(&segv); r.Addr != 0xdead000 || r.PID != 0 {
		t.Errorf("segv: %+v", r)
	}

	sys := linux.SignalInfo{Signo: int32(linux.SIGSYS), Code: linux.SYS_SECCOMP}
	sys.SetSyscall(39)
	sys.SetArch(0xc000003e)
	sys.SetCallAddr(0x401000)
	if r := Record(&sys); r.Syscall != 39 || r.Arch != 0xc000003e || r.CallAddr != 0x401000 {
		t.Errorf("sigsys: %+v", r)
	}

	// A kernel code that is not specific to the signal is a poll record.
	poll := linux.SignalInfo{Signo: int32(linux.SIGUSR2), Code: 1}
	poll.SetBand(int64(linux.POLLIN))
	poll.SetFD(4)
	if r := Record(&poll); r.FD != 4 || r.Band != linux.POLLIN {
		t.Errorf("poll: %+v", r)
	}
}
