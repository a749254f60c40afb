package filter

import (
	"maps"
	"slices"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/seccomp"
	"appkernel.dev/appkernel/pkg/sentry/socket/hostinet"
)

// hostNetworkRules are pkg/sentry/socket/hostinet's calls, for
// --network=host only (Options.HostNetwork). The socket options and
// ioctls come from hostinet's own allow-lists, so that the filter and
// the Sentry-side check cannot drift apart; accept4, getsockname,
// sendmsg, recvmsg, close and the fd notifier's calls are on the base
// list already.
func hostNetworkRules() seccomp.SyscallRules {
	const flags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	inet := seccomp.In(unix.AF_INET, unix.AF_INET6)
	r := seccomp.SyscallRules{
		// TCP and UDP sockets, never raw ones; netlink only
		// NETLINK_ROUTE, and NETLINK_SOCK_DIAG for the inet
		// sock_diag queries hostinet forwards (ss). Always
		// non-blocking and close-on-exec.
		unix.SYS_SOCKET: {
			{Args: [6]seccomp.Match{0: inet, 1: seccomp.Eq(unix.SOCK_STREAM | flags), 2: seccomp.In(0, unix.IPPROTO_TCP)}},
			{Args: [6]seccomp.Match{0: inet, 1: seccomp.Eq(unix.SOCK_DGRAM | flags), 2: seccomp.In(0, unix.IPPROTO_UDP)}},
			{Args: [6]seccomp.Match{0: seccomp.Eq(unix.AF_NETLINK), 1: seccomp.In(unix.SOCK_RAW|flags, unix.SOCK_DGRAM|flags), 2: seccomp.Eq(unix.NETLINK_ROUTE)}},
			{Args: [6]seccomp.Match{0: seccomp.Eq(unix.AF_NETLINK), 1: seccomp.Eq(unix.SOCK_RAW | flags), 2: seccomp.Eq(unix.NETLINK_SOCK_DIAG)}},
		},
		unix.SYS_BIND:        nil,
		unix.SYS_LISTEN:      nil,
		unix.SYS_CONNECT:     nil,
		unix.SYS_SHUTDOWN:    nil,
		unix.SYS_GETPEERNAME: nil,
	}
	for nr, names := range map[uintptr]map[int][]int{
		unix.SYS_GETSOCKOPT: hostinet.OptionNames(true),
		unix.SYS_SETSOCKOPT: hostinet.OptionNames(false),
	} {
		for _, level := range slices.Sorted(maps.Keys(names)) {
			r.Add(nr, seccomp.Rule{Args: [6]seccomp.Match{1: seccomp.Eq(uint64(level)), 2: seccomp.In(u64s(names[level])...)}})
		}
	}
	var reqs []uint64
	for _, req := range hostinet.AllowedIoctls() {
		reqs = append(reqs, uint64(req))
	}
	r.Add(unix.SYS_IOCTL, seccomp.Rule{Args: [6]seccomp.Match{1: seccomp.In(reqs...)}})
	return r
}

func u64s(v []int) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = uint64(x)
	}
	return out
}
