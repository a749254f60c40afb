package linux

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/marshal"
)

// le is the byte order of both supported architectures.
var le = binary.LittleEndian

// Every fixed-size ABI type in this package must satisfy Marshallable; the
// list below makes the compiler check that for the common ones.
var (
	_ marshal.Marshallable = (*Timespec)(nil)
	_ marshal.Marshallable = (*Timeval)(nil)
	_ marshal.Marshallable = (*Itimerspec)(nil)
	_ marshal.Marshallable = (*Itimerval)(nil)
	_ marshal.Marshallable = (*Stat)(nil)
	_ marshal.Marshallable = (*Statx)(nil)
	_ marshal.Marshallable = (*Statfs)(nil)
	_ marshal.Marshallable = (*SigAction)(nil)
	_ marshal.Marshallable = (*SignalStack)(nil)
	_ marshal.Marshallable = (*SignalInfo)(nil)
	_ marshal.Marshallable = (*SignalSet)(nil)
	_ marshal.Marshallable = (*EpollEvent)(nil)
	_ marshal.Marshallable = (*PollFD)(nil)
	_ marshal.Marshallable = (*Rusage)(nil)
	_ marshal.Marshallable = (*Rlimit)(nil)
	_ marshal.Marshallable = (*Sysinfo)(nil)
	_ marshal.Marshallable = (*Utsname)(nil)
	_ marshal.Marshallable = (*Iovec)(nil)
	_ marshal.Marshallable = (*Dirent64Header)(nil)
	_ marshal.Marshallable = (*OpenHow)(nil)
	_ marshal.Marshallable = (*CloneArgs)(nil)
	_ marshal.Marshallable = (*RobustListHead)(nil)
	_ marshal.Marshallable = (*Rseq)(nil)
	_ marshal.Marshallable = (*RseqCS)(nil)
	_ marshal.Marshallable = (*Termios)(nil)
	_ marshal.Marshallable = (*Termios2)(nil)
	_ marshal.Marshallable = (*Winsize)(nil)
	_ marshal.Marshallable = (*CapUserHeader)(nil)
	_ marshal.Marshallable = (*CapUserData)(nil)
	_ marshal.Marshallable = (*SockFilter)(nil)
	_ marshal.Marshallable = (*SockFprog)(nil)
	_ marshal.Marshallable = (*SeccompData)(nil)
	_ marshal.Marshallable = (*PtraceRegs)(nil)
	_ marshal.Marshallable = (*ElfHeader64)(nil)
	_ marshal.Marshallable = (*ElfProg64)(nil)
	_ marshal.Marshallable = (*ElfSection64)(nil)
	_ marshal.Marshallable = (*AuxEntry)(nil)
	_ marshal.Marshallable = (*Tms)(nil)
	_ marshal.Marshallable = (*Flock)(nil)
	_ marshal.Marshallable = (*FOwnerEx)(nil)
	_ marshal.Marshallable = (*Sigevent)(nil)
	_ marshal.Marshallable = (*Timezone)(nil)
	_ marshal.Marshallable = (*FutexWaitv)(nil)
	_ marshal.Marshallable = (*SignalfdSiginfo)(nil)
)
