package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
	_ "appkernel.dev/appkernel/pkg/sentry/syscalls/linux" // registers the syscall table
)

// The bundle's linux.seccomp profile is applied inside the sandbox to the
// container's processes, as runc applies it.

// seccompBundle is a busybox bundle running argv under profile, with the
// extra busybox applets the tests use.
func (e *ociEnv) seccompBundle(profile *specs.LinuxSeccomp, argv ...string) string {
	e.t.Helper()
	b := e.bundle(argv...)
	for _, l := range []string{"mkdir", "sync", "unshare", "mount", "grep", "linux32"} {
		if err := os.Symlink("busybox", filepath.Join(b, "rootfs", "bin", l)); err != nil {
			e.t.Fatal(err)
		}
	}
	e.editSpec(b, func(s *specs.Spec) { s.Linux.Seccomp = profile })
	return b
}

func errnoRet(v uint) *uint { return &v }

// denyProfile fails mkdir with EPERM and kills the process on sync.
func denyProfile() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64},
		Syscalls: []specs.LinuxSyscall{
			// mkdirat is what arm64 has; "no_such_syscall" is skipped.
			{Names: []string{"mkdir", "mkdirat", "no_such_syscall"}, Action: specs.ActErrno},
			{Names: []string{"sync"}, Action: specs.ActKillProcess},
		},
	}
}

func TestOCISeccompProfile(t *testing.T) {
	e := newOCIEnv(t)
	b := e.seccompBundle(denyProfile(), "/bin/sh", "-c",
		`echo start; grep -E '^(NoNewPrivs|Seccomp)' /proc/self/status; mkdir /tmp/d || echo denied; sync; echo sync=$?; exec sync`)
	r := e.runsc("run", "--bundle", b, "sc")
	want := "start\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\ndenied\nsync=159\n"
	if r.code != 128+31 || r.stdout != want || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("run = %+v, want exit %d (SIGSYS) and stdout %q", r, 128+31, want)
	}
}

// Processes `runsc exec` adds are confined by the same profile.
func TestOCISeccompExec(t *testing.T) {
	e := newOCIEnv(t)
	b := e.seccompBundle(denyProfile(), "/bin/sh", "-c", "while :; do sleep 1; done")
	e.create("scx", b)
	e.must("start", "scx")
	if r := e.runsc("exec", "scx", "/bin/mkdir", "/tmp/x"); r.code != 1 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("exec mkdir = %+v, want EPERM", r)
	}
	if r := e.runsc("exec", "scx", "/bin/sync"); r.code != 128+31 {
		t.Errorf("exec sync = %+v, want exit %d (SIGSYS)", r, 128+31)
	}
	if r := e.runsc("exec", "scx", "/bin/sh", "-c", "echo alive"); r.code != 0 || r.stdout != "alive\n" {
		t.Errorf("exec echo = %+v", r)
	}
	e.must("delete", "--force", "scx")
}

// dockerStyleProfile is shaped like Docker's default: an allow-list by
// name with EPERM for the rest, ENOSYS for clone3, clone allowed only
// without namespace flags and personality only for a few values. The
// list allows every syscall the sandbox knows except those Docker keeps
// from an unprivileged container, plus names of other architectures that
// must be skipped.
func dockerStyleProfile(t *testing.T) *specs.LinuxSeccomp {
	table, ok := kernel.LookupSyscallTable("linux", runtime.GOARCH)
	if !ok {
		t.Fatal("no syscall table")
	}
	denied := map[string]bool{
		"mount": true, "umount2": true, "unshare": true, "setns": true, "pivot_root": true,
		"reboot": true, "swapon": true, "swapoff": true, "kexec_load": true, "kexec_file_load": true,
		"init_module": true, "finit_module": true, "delete_module": true, "bpf": true,
		"perf_event_open": true, "userfaultfd": true, "keyctl": true, "add_key": true,
		"request_key": true, "syslog": true, "acct": true, "settimeofday": true,
		"clock_settime": true, "quotactl": true, "open_by_handle_at": true, "iopl": true,
		"ioperm": true, "vhangup": true, "personality": true, "clone": true, "clone3": true,
	}
	allow := []string{"_llseek", "arm_fadvise64_64", "s390_runtime_instr"}
	for _, s := range table.All() {
		if !denied[s.Name] {
			allow = append(allow, s.Name)
		}
	}
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: allow, Action: specs.ActAllow}},
	}
	for _, v := range []uint64{0, 8, 0x20000, 0x20008, 0xffffffff} {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: specs.OpEqualTo}}})
	}
	// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: none may
	// be set (the flags are clone's first argument on both x86 and arm).
	p.Syscalls = append(p.Syscalls,
		specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7e020000, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
		specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: errnoRet(38)})
	return p
}

func TestOCISeccompDockerStyleProfile(t *testing.T) {
	e := newOCIEnv(t)
	b := e.seccompBundle(dockerStyleProfile(t), "/bin/sh", "-c", strings.Join([]string{
		`echo a | cat`,                  // fork and pipes: clone without namespace flags
		`mkdir /tmp/d && ls /tmp`,       // ordinary calls
		`linux32 echo l32`,              // personality(PER_LINUX32) is allowed
		`unshare -n true || echo no-ns`, // unshare is not
		`mount -t tmpfs none /tmp 2>/dev/null || echo no-mount`,
	}, "; "))
	r := e.runsc("run", "--bundle", b, "scd")
	want := "a\nd\nl32\nno-ns\nno-mount\n"
	if r.code != 0 || r.stdout != want || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("run = %+v, want exit 0 and stdout %q", r, want)
	}
}

// A profile the sandbox cannot honour fails create, as under runc,
// rather than running the container less confined than asked.
func TestOCISeccompRefusedProfiles(t *testing.T) {
	e := newOCIEnv(t)
	for _, tc := range []struct {
		name    string
		profile *specs.LinuxSeccomp
		want    string
	}{
		{"notify", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}, "SCMP_ACT_NOTIFY"},
		{"unknown-action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}, "SCMP_ACT_BOGUS"},
		{"unknown-op", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_BOGUS"}}}}}, "SCMP_CMP_BOGUS"},
		{"unknown-arch", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}, "SCMP_ARCH_VAX"},
	} {
		b := e.seccompBundle(tc.profile, "/bin/true")
		c, r := e.tryCreate("ref-"+tc.name, b)
		if r.code == 0 {
			t.Errorf("%s: create succeeded", tc.name)
			e.runsc("delete", "--force", c.id)
			continue
		}
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: create = %+v, want an error naming %s", tc.name, r, tc.want)
		}
	}
}
