package kernel

import (
	"runtime"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// UTS names (uname, sethostname, setdomainname).
//
// The release and version are the host kernel's, read once at start:
// programs parse the release to decide which syscalls and features to
// use, and the sandbox implements the ABI as the host's kernel shapes it
// (errno choices, struct sizes, cpumask sizes), so claiming the host's
// release is the honest answer. It is the same for every sandbox on a
// host.

var hostRelease, hostVersion = func() (string, string) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "6.1.0", "#1 SMP PREEMPT_DYNAMIC"
	}
	return unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Version[:])
}()

// UTSMachine is uname's machine field for the architecture built.
func UTSMachine() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// UTSNames returns uname(2)'s answer.
func (k *Kernel) UTSNames() linux.Utsname {
	e := k.extras()
	e.mu.Lock()
	host, domain := e.hostname, e.domainname
	e.mu.Unlock()
	if host == "" {
		host = "localhost"
	}
	if domain == "" {
		domain = "(none)"
	}
	var u linux.Utsname
	linux.SetUTSField(&u.Sysname, "Linux")
	linux.SetUTSField(&u.Nodename, host)
	linux.SetUTSField(&u.Release, hostRelease)
	linux.SetUTSField(&u.Version, hostVersion)
	linux.SetUTSField(&u.Machine, UTSMachine())
	linux.SetUTSField(&u.Domainname, domain)
	return u
}

// SetHostname implements sethostname(2)'s update (the caller checks
// CAP_SYS_ADMIN and the length).
func (k *Kernel) SetHostname(name string) {
	e := k.extras()
	e.mu.Lock()
	e.hostname = name
	e.mu.Unlock()
}

// SetDomainname implements setdomainname(2)'s update.
func (k *Kernel) SetDomainname(name string) {
	e := k.extras()
	e.mu.Lock()
	e.domainname = name
	e.mu.Unlock()
}
