// Package filter is the Sentry's seccomp allow-list: every host system
// call `runsc boot` may make once the container's first process is about
// to run. Anything else kills the sandbox process, so a compromised
// Sentry is left with this list, not with the host kernel.
//
// The list is measured, not guessed: it is the Go runtime's needs
// (seccomp.GoRuntime), the platform's RuntimeSyscalls, and the host calls
// the Sentry's packages document for their run-time paths (host fds,
// the gofer client and its donated fds, the fd notifier, the memory
// file, the kernel). docs/seccomp.md lists the result and says how it was
// checked against a trace of real workloads; a test keeps it current.
//
// Install it after the platform, the memory file and the gofer
// connections exist, and before the first application instruction:
// setup calls (memfd_create, execve of the stub, opening files, socket
// creation) are deliberately not on the list.
package filter

import (
	"fmt"
	"os"

	"appkernel.dev/appkernel/pkg/seccomp"
)

// Options select the rules for one sandbox.
type Options struct {
	// Platform is the platform's name: "ptrace" or "systrap".
	Platform string
	// HostNetwork allows the host socket calls of --network=host
	// (pkg/sentry/socket/hostinet): creating TCP, UDP and
	// NETLINK_ROUTE sockets and the allowed options and ioctls on them.
	HostNetwork bool
	// PacketFD, if positive, is the AF_PACKET socket of the interface
	// the sandbox's packet stack drives (--network=sandbox over an
	// engine's veth): batched reads and writes on it are allowed.
	PacketFD int
	// Debug adds what debugging a running Sentry needs: the Go CPU
	// profiler's timers (setitimer, timer_create, timer_settime,
	// timer_delete).
	Debug bool
	// PID is the sandbox process's pid as it sees itself (getpid());
	// 0 means this process. Signals and kcmp are restricted to it.
	PID int
}

// Rules returns the Sentry's allow-list for opts.
func Rules(opts Options) (seccomp.RuleSet, error) {
	pid := opts.PID
	if pid == 0 {
		pid = os.Getpid()
	}
	rules := seccomp.GoRuntime(pid)
	rules.Merge(sentryRules(pid))
	var hot []uintptr
	switch opts.Platform {
	case "ptrace":
		rules.Merge(ptraceRules(pid))
		hot = ptraceHot
	case "systrap":
		rules.Merge(systrapRules(pid))
		hot = systrapHot
	default:
		return seccomp.RuleSet{}, fmt.Errorf("seccomp: no Sentry rules for platform %q", opts.Platform)
	}
	if opts.HostNetwork {
		rules.Merge(hostNetworkRules())
	}
	if opts.PacketFD > 0 {
		rules.Merge(packetLinkRules(opts.PacketFD))
	}
	if opts.Debug {
		rules.Merge(profilerRules())
	}
	return seccomp.AllowList(rules, hot...), nil
}

// Install confines this process, for the rest of its life, to the
// Sentry's rules for opts.
func Install(opts Options) error {
	rs, err := Rules(opts)
	if err != nil {
		return err
	}
	p, err := seccomp.Compile(rs)
	if err != nil {
		return err
	}
	return seccomp.Install(p)
}
