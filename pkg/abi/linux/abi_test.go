package linux

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/marshal"
)

func TestArchSizes(t *testing.T) {
	for name, s := range archSizes {
		if s[0] != s[1] {
			t.Errorf("%s: size constant %d, want %d", name, s[0], s[1])
		}
	}
	// Sizes that are the same on both targets.
	for _, c := range []struct {
		m    marshal.Marshallable
		want int
	}{
		{&Timespec{}, 16}, {&Statx{}, 256}, {&Statfs{}, 120}, {&SigAction{}, 32},
		{&SignalInfo{}, 128}, {&SignalfdSiginfo{}, 128}, {&SignalStack{}, 24},
		{&Rusage{}, 144}, {&Sysinfo{}, 112}, {&Utsname{}, 390}, {&OpenHow{}, 24},
		{&CloneArgs{}, 88}, {&RobustListHead{}, 24}, {&Rseq{}, 32}, {&Termios{}, 36},
		{&Termios2{}, 44}, {&SeccompData{}, 64}, {&SockFprog{}, 16}, {&ElfHeader64{}, 64},
		{&ElfProg64{}, 56}, {&Dirent64Header{}, 19}, {&Sigevent{}, 64}, {&Flock{}, 32},
	} {
		if got := c.m.SizeBytes(); got != c.want {
			t.Errorf("%T: SizeBytes() = %d, want %d", c.m, got, c.want)
		}
	}
}

func TestErrno(t *testing.T) {
	for e := Errno(1); e <= 133; e++ {
		if e == 41 || e == 58 {
			if e.Known() {
				t.Errorf("errno %d should be unassigned", e)
			}
			continue
		}
		if !e.Known() || e.Name() == "" || e.Error() == "" {
			t.Errorf("errno %d has no name or message", e)
		}
		if !errors.Is(e, syscall.Errno(e)) {
			t.Errorf("errors.Is(%s, syscall.Errno(%d)) = false", e.Name(), e)
		}
	}
	if ENOENT.Name() != "ENOENT" || ENOENT.Error() != "No such file or directory" {
		t.Errorf("ENOENT = %q %q", ENOENT.Name(), ENOENT.Error())
	}
	if Errno(200).Name() != "200" || Errno(200).Error() != "errno 200" {
		t.Errorf("unknown errno: %q %q", Errno(200).Name(), Errno(200).Error())
	}
	if EWOULDBLOCK != EAGAIN || ENOTSUP != EOPNOTSUPP || EDEADLOCK != EDEADLK {
		t.Error("aliases wrong")
	}
	if e, ok := ErrnoFromReturn(EINTR.Return()); !ok || e != EINTR {
		t.Errorf("ErrnoFromReturn(EINTR.Return()) = %v, %v", e, ok)
	}
	if _, ok := ErrnoFromReturn(uintptr(0x7fff0000)); ok {
		t.Error("a large positive return decoded as an error")
	}
	if _, ok := ErrnoFromReturn(^uintptr(4095)); ok {
		t.Error("-4096 decoded as an error")
	}
}

func TestSignals(t *testing.T) {
	for s := Signal(1); s <= NumSignals; s++ {
		if !s.IsValid() || s.String() == "" {
			t.Errorf("signal %d invalid or unnamed", s)
		}
		if got := syscall.Signal(s).String(); s.IsStandard() && got == "" {
			t.Errorf("host has no name for %d", s)
		}
	}
	for s, want := range map[Signal]SignalAct{
		SIGKILL: SignalActTerm, SIGSEGV: SignalActCore, SIGCHLD: SignalActIgnore,
		SIGSTOP: SignalActStop, SIGTSTP: SignalActStop, SIGCONT: SignalActContinue,
		SIGWINCH: SignalActIgnore, SIGURG: SignalActIgnore, SIGSYS: SignalActCore,
		SIGRTMIN + 1: SignalActTerm,
	} {
		if got := s.DefaultAction(); got != want {
			t.Errorf("%v default %v, want %v", s, got, want)
		}
	}
	if SIGSEGV.String() != "SIGSEGV" || (SIGRTMIN+3).String() != "SIGRT_3" {
		t.Errorf("names: %v %v", SIGSEGV, SIGRTMIN+3)
	}
	set := MakeSignalSet(SIGINT, SIGRTMAX)
	if !set.Has(SIGINT) || !set.Has(SIGRTMAX) || set.Has(SIGTERM) || set != 1<<1|1<<63 {
		t.Errorf("set = %#x", uint64(set))
	}
	if UnblockableSignals != MakeSignalSet(SIGKILL, SIGSTOP) {
		t.Error("UnblockableSignals")
	}
}

func TestSignalInfoAccessors(t *testing.T) {
	var si SignalInfo
	si.Signo = int32(SIGCHLD)
	si.Code = CLD_EXITED
	si.SetPID(1234)
	si.SetUID(1000)
	si.SetStatus(7)
	si.SetUtime(11)
	si.SetStime(12)
	b := marshal.Marshal(&si)
	// Offsets from <asm/siginfo.h> on LP64 targets.
	for _, c := range []struct {
		off  int
		n    int
		want uint64
	}{{0, 4, 17}, {8, 4, 1}, {16, 4, 1234}, {20, 4, 1000}, {24, 4, 7}, {32, 8, 11}, {40, 8, 12}} {
		var got uint64
		for i := c.n - 1; i >= 0; i-- {
			got = got<<8 | uint64(b[c.off+i])
		}
		if got != c.want {
			t.Errorf("byte %d: %d, want %d", c.off, got, c.want)
		}
	}
	var sys SignalInfo
	sys.SetCallAddr(0x401000)
	sys.SetSyscall(39)
	sys.SetArch(AUDIT_ARCH_X86_64)
	b = marshal.Marshal(&sys)
	if le.Uint64(b[16:]) != 0x401000 || le.Uint32(b[24:]) != 39 || le.Uint32(b[28:]) != AUDIT_ARCH_X86_64 {
		t.Errorf("sigsys fields misplaced: % x", b[16:32])
	}
	if sys.CallAddr() != 0x401000 || sys.Syscall() != 39 || sys.Arch() != AUDIT_ARCH_X86_64 {
		t.Error("sigsys accessors do not round-trip")
	}
}

func TestWaitStatus(t *testing.T) {
	// Compare with the host's decoding of the same encodings.
	for _, ws := range []WaitStatus{
		WaitStatusExit(3), WaitStatusSignaled(SIGKILL, false), WaitStatusSignaled(SIGSEGV, true),
		WaitStatusStopped(SIGTSTP, 0), WaitStatusStopped(SIGTRAP, PTRACE_EVENT_EXEC), WaitStatusContinued,
	} {
		h := syscall.WaitStatus(ws)
		if ws.Exited() != h.Exited() || ws.ExitStatus() != h.ExitStatus() && h.Exited() ||
			ws.Signaled() != h.Signaled() || ws.CoreDump() != h.CoreDump() ||
			ws.Stopped() != h.Stopped() || ws.Continued() != h.Continued() ||
			(h.Signaled() && ws.Signal() != Signal(h.Signal())) ||
			(h.Stopped() && ws.StopSignal() != Signal(h.StopSignal())) {
			t.Errorf("status %#x decodes differently from the host", uint32(ws))
		}
	}
}

func TestTimeConversions(t *testing.T) {
	for _, ns := range []int64{0, 1, 999999999, 1e9, -1, -1e9 - 1, 1<<63 - 1} {
		ts := NsecToTimespec(ns)
		if !ts.Valid() || ts.ToNsec() != ns {
			t.Errorf("%d -> %+v -> %d", ns, ts, ts.ToNsec())
		}
	}
	if (Timespec{Sec: 1 << 62}).ToNsec() != 1<<63-1 {
		t.Error("ToNsec does not saturate")
	}
	if DurationToTimespec(1500*time.Millisecond) != (Timespec{1, 5e8}) {
		t.Error("DurationToTimespec")
	}
	if NsecToTimeval(1500001000) != (Timeval{1, 500001}) {
		t.Error("NsecToTimeval")
	}
}

func TestDeviceID(t *testing.T) {
	for _, c := range []struct{ major, minor uint32 }{{1, 3}, {136, 0}, {4095, 1048575}, {0x1234, 0x56789}} {
		dev := MakeDeviceID(c.major, c.minor)
		if ma, mi := DecodeDeviceID(dev); ma != c.major || mi != c.minor {
			t.Errorf("%d:%d -> %#x -> %d:%d", c.major, c.minor, dev, ma, mi)
		}
	}
	// /dev/null is 1:3, st_rdev 0x103 on Linux.
	if MakeDeviceID(1, 3) != 0x103 {
		t.Errorf("MakeDeviceID(1, 3) = %#x", MakeDeviceID(1, 3))
	}
}

func TestIOC(t *testing.T) {
	if IOCSize(TCGETS2) != SizeofTermios2 || IOCDir(TCGETS2) != IOC_READ || IOCType(TCGETS2) != 'T' || IOCNr(TCGETS2) != 0x2a {
		t.Error("IOC field extraction")
	}
}

func TestDirent64(t *testing.T) {
	buf := AppendDirent64(nil, 42, 7, DT_REG, "hello")
	if len(buf) != 32 || Dirent64Reclen(5) != 32 || Dirent64Reclen(4) != 24 {
		t.Fatalf("record length %d", len(buf))
	}
	var h Dirent64Header
	rest := h.UnmarshalBytes(buf)
	if h.Ino != 42 || h.Off != 7 || h.Reclen != 32 || h.Type != DT_REG || string(rest[:6]) != "hello\x00" {
		t.Errorf("decoded %+v %q", h, rest)
	}
	if FileMode(S_IFDIR|0755).DirentType() != DT_DIR {
		t.Error("DirentType")
	}
}

func TestEpollUserData(t *testing.T) {
	var e EpollEvent
	e.SetUserData(0x1122334455667788)
	b := marshal.Marshal(&e)
	if e.UserData() != 0x1122334455667788 || le.Uint64(b[len(b)-8:]) != 0x1122334455667788 {
		t.Errorf("user data: %#x, % x", e.UserData(), b)
	}
	if unsafe.Sizeof(e) != uintptr(SizeofEpollEvent) {
		t.Error("size")
	}
}

func TestCapabilities(t *testing.T) {
	for c := Capability(0); c <= CAP_LAST_CAP; c++ {
		got, ok := CapabilityFromName(c.String())
		if !ok || got != c {
			t.Errorf("%d: %s round-trips to %d", c, c, got)
		}
	}
	if CAP_SYS_ADMIN.String() != "CAP_SYS_ADMIN" {
		t.Error(CAP_SYS_ADMIN.String())
	}
}

func TestUtsname(t *testing.T) {
	var u Utsname
	SetUTSField(&u.Sysname, "Linux")
	if UTSFieldString(&u.Sysname) != "Linux" {
		t.Error(UTSFieldString(&u.Sysname))
	}
	SetUTSField(&u.Nodename, strings.Repeat("n", 100))
	if u.Nodename[UTSLen-1] != 0 || len(UTSFieldString(&u.Nodename)) != UTSLen-1 {
		t.Error("field not NUL-terminated")
	}
}
