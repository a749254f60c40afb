package linux

import (
	"testing"

	"golang.org/x/sys/unix"
)

type constCase struct {
	name   string
	ours   int64
	theirs int64
}

// u64 reinterprets an all-ones-style unsigned constant as int64 at run
// time, where the compile-time conversion would overflow.
func u64(v uint64) int64 { return int64(v) }

// knownDifferences are constants where x/sys deliberately follows glibc
// rather than the kernel ABI.
var knownDifferences = map[string]int64{
	// glibc defines O_LARGEFILE as 0 on 64-bit targets because it is
	// implied there; the kernel still has a bit for it, which it sets in
	// f_flags and which fcntl(F_GETFL) reports.
	"O_LARGEFILE": 0,
}

func TestConstantsMatchXSys(t *testing.T) {
	n := 0
	for _, list := range [][]constCase{commonConsts, archConsts} {
		for _, c := range list {
			n++
			if want, ok := knownDifferences[c.name]; ok {
				if c.theirs != want {
					t.Errorf("%s: x/sys now has %#x; revisit knownDifferences", c.name, c.theirs)
				}
				continue
			}
			if c.ours != c.theirs {
				t.Errorf("%s = %#x, x/sys has %#x", c.name, c.ours, c.theirs)
			}
		}
	}
	t.Logf("compared %d constants", n)
}

// Checks for values that x/sys cannot vouch for (kernel-only numbers, or
// constants it names differently).
func TestConstantsByHand(t *testing.T) {
	for _, c := range []constCase{
		{"SIGRTMIN", int64(SIGRTMIN), 32},
		{"SIGRTMAX", int64(SIGRTMAX), 64},
		{"ERESTARTSYS", int64(ERESTARTSYS), 512},
		{"ERESTART_RESTARTBLOCK", int64(ERESTART_RESTARTBLOCK), 516},
		{"FUTEX_CMD_MASK", FUTEX_CMD_MASK, ^int64(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)},
		{"AUDIT_ARCH_X86_64", AUDIT_ARCH_X86_64, int64(unix.AUDIT_ARCH_X86_64)},
		{"AUDIT_ARCH_AARCH64", AUDIT_ARCH_AARCH64, int64(unix.AUDIT_ARCH_AARCH64)},
		{"RLimInfinity", u64(RLimInfinity), u64(unix.RLIM_INFINITY)},
		{"SignalSetSize", SignalSetSize, 8},
		// x/sys uses SYS_SECCOMP for the syscall number; this is the si_code.
		{"SYS_SECCOMP", SYS_SECCOMP, 1},
		{"UTIME_NOW", UTIME_NOW, int64(unix.UTIME_NOW)},
		{"UTIME_OMIT", UTIME_OMIT, int64(unix.UTIME_OMIT)},
		{"LINUX_CAPABILITY_VERSION_3", LINUX_CAPABILITY_VERSION_3, int64(unix.LINUX_CAPABILITY_VERSION_3)},
		{"TCGETS2", TCGETS2, int64(IOC(IOC_READ, 'T', 0x2a, SizeofTermios2))},
		{"TCSETS2", TCSETS2, int64(IOC(IOC_WRITE, 'T', 0x2b, SizeofTermios2))},
		{"TIOCGPTN", TIOCGPTN, int64(IOC(IOC_READ, 'T', 0x30, 4))},
		{"TIOCSPTLCK", TIOCSPTLCK, int64(IOC(IOC_WRITE, 'T', 0x31, 4))},
		{"TIOCGPTPEER", TIOCGPTPEER, int64(IOC(IOC_NONE, 'T', 0x41, 0))},
		{"CAP_LAST_CAP", int64(CAP_LAST_CAP), int64(unix.CAP_LAST_CAP)},
		{"O_TMPFILE", O_TMPFILE, int64(unix.O_TMPFILE)},
		{"O_SYNC", O_SYNC, int64(unix.O_SYNC)},
		{"PR_SET_PTRACER_ANY", u64(PR_SET_PTRACER_ANY), -1},
		{"PageSize", PageSize, 4096},
	} {
		if c.ours != c.theirs {
			t.Errorf("%s = %#x, want %#x", c.name, c.ours, c.theirs)
		}
	}
}
