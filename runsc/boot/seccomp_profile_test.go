package boot

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/bpf"
	"appkernel.dev/appkernel/pkg/seccomp"
)

// decide compiles p and runs it on a call of nr with args.
func decide(t *testing.T, p *specs.LinuxSeccomp, nr uintptr, args ...uint64) uint32 {
	t.Helper()
	prog, _, err := CompileSeccompProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := bpf.Compile(prog)
	if err != nil {
		t.Fatal(err)
	}
	d := linux.SeccompData{Nr: int32(nr), Arch: seccomp.NativeArch}
	copy(d.Args[:], args)
	return bp.Run(&d)
}

func u(v uint) *uint { return &v }

func TestSeccompProfileSemantics(t *testing.T) {
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: u(38),
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid", "not_a_syscall"}, Action: specs.ActAllow},
			// The first entry that matches decides.
			{Names: []string{"getppid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 5, Op: specs.OpEqualTo}}},
			{Names: []string{"getppid"}, Action: specs.ActTrap},
			// A repeated index: either condition selects the call.
			{Names: []string{"getpgid"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 2, Op: specs.OpEqualTo}}},
			// Different indexes: both must hold.
			{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpGreaterThan}, {Index: 1, Value: 0xf0, ValueTwo: 0x10, Op: specs.OpMaskedEqual}}},
			{Names: []string{"sync"}, Action: specs.ActKill},
			{Names: []string{"getuid"}, Action: specs.ActTrace},
		},
	}
	for _, c := range []struct {
		name string
		nr   uintptr
		args []uint64
		want uint32
	}{
		{"allowed", unix.SYS_GETPID, nil, linux.SECCOMP_RET_ALLOW},
		{"default with defaultErrnoRet", unix.SYS_GETTID, nil, linux.SECCOMP_RET_ERRNO | 38},
		{"first entry, errno defaults to EPERM", unix.SYS_GETPPID, []uint64{5}, linux.SECCOMP_RET_ERRNO | 1},
		{"second entry", unix.SYS_GETPPID, []uint64{6}, linux.SECCOMP_RET_TRAP},
		{"or 1", unix.SYS_GETPGID, []uint64{1}, linux.SECCOMP_RET_ALLOW},
		{"or 2", unix.SYS_GETPGID, []uint64{2}, linux.SECCOMP_RET_ALLOW},
		{"or neither", unix.SYS_GETPGID, []uint64{3}, linux.SECCOMP_RET_ERRNO | 38},
		{"and both", unix.SYS_KILL, []uint64{2, 0x13}, linux.SECCOMP_RET_ALLOW},
		{"and one", unix.SYS_KILL, []uint64{2, 0x23}, linux.SECCOMP_RET_ERRNO | 38},
		{"and other", unix.SYS_KILL, []uint64{1, 0x13}, linux.SECCOMP_RET_ERRNO | 38},
		{"kill is kill thread", unix.SYS_SYNC, nil, linux.SECCOMP_RET_KILL_THREAD},
		{"trace carries EPERM", unix.SYS_GETUID, nil, linux.SECCOMP_RET_TRACE | 1},
	} {
		if got := decide(t, p, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}

func TestSeccompProfileRefusals(t *testing.T) {
	for _, c := range []struct {
		p    specs.LinuxSeccomp
		want string
	}{
		{specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "NOTIFY"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/x"}, "listenerPath"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: u(1)}, "errnoRet"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: u(70000)}, "out of range"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"}}, "flag"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "index"},
	} {
		if _, _, err := CompileSeccompProfile(&c.p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want one mentioning %q", c.p, err, c.want)
		}
	}
}

func TestNewSeccompConfig(t *testing.T) {
	if c, err := NewSeccompConfig(&specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}); c != nil || err != nil {
		t.Errorf("no profile, no no_new_privs: %+v, %v", c, err)
	}
	c, err := NewSeccompConfig(&specs.Spec{Process: &specs.Process{NoNewPrivileges: true}})
	if err != nil || c == nil || !c.NoNewPrivileges || c.Profile != nil {
		t.Errorf("no_new_privs only: %+v, %v", c, err)
	}
	if _, err := NewSeccompConfig(&specs.Spec{Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{DefaultAction: "x"}}}); err == nil {
		t.Errorf("a bad profile was accepted")
	}
}
