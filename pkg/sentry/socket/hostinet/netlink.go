package hostinet

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Netlink message layout (linux/netlink.h, linux/rtnetlink.h).
const (
	sizeNlmsghdr  = 16
	sizeSockaddrN = 12 // struct sockaddr_nl
	nlmFRequest   = 0x1
	// nlmsgMinType is NLMSG_MIN_TYPE and RTM_BASE: lower types are
	// netlink's own control messages, never handed to rtnetlink.
	nlmsgMinType = 0x10
	// rtmKindGet is the low two bits of (type - RTM_BASE) for the
	// RTM_GET* requests; the other kinds (NEW, DEL, SET) change state.
	rtmKindGet = 2
)

// checkNetlinkDest allows only the kernel as the destination of a
// netlink message (nl_pid 0, no multicast groups): Linux lets only a
// CAP_NET_ADMIN holder send NETLINK_ROUTE messages to other sockets or
// groups, and the Sentry may hold it on the host. AF_UNSPEC (connect's
// disconnect) and malformed addresses go to the host, which answers as
// Linux does, except that a netlink address too short to hold nl_pid
// and nl_groups is EINVAL here.
func checkNetlinkDest(addr []byte) error {
	if len(addr) < 2 || binary.LittleEndian.Uint16(addr) != unix.AF_NETLINK {
		return nil
	}
	if len(addr) < sizeSockaddrN {
		return linux.EINVAL
	}
	if binary.LittleEndian.Uint32(addr[4:]) != 0 || binary.LittleEndian.Uint32(addr[8:]) != 0 {
		return linux.EPERM
	}
	return nil
}

// checkNetlinkRequests refuses, with EPERM, a send that holds any
// rtnetlink request that is not a query (RTM_GET*): Linux refuses those
// to a process without CAP_NET_ADMIN, and the Sentry's host privilege
// must not change the host's links, addresses, routes or rules on the
// application's behalf. The walk is Linux's netlink_rcv_skb: it stops
// where the kernel would stop processing, and skips the messages the
// kernel skips (no NLM_F_REQUEST, control types).
func checkNetlinkRequests(buf []byte) error {
	le := binary.LittleEndian
	for len(buf) >= sizeNlmsghdr {
		l := le.Uint32(buf)
		typ, flags := le.Uint16(buf[4:]), le.Uint16(buf[6:])
		if l < sizeNlmsghdr || uint64(l) > uint64(len(buf)) {
			return nil
		}
		if flags&nlmFRequest != 0 && typ >= nlmsgMinType && (typ-nlmsgMinType)&3 != rtmKindGet {
			return linux.EPERM
		}
		next := min(int((l+3)&^3), len(buf))
		buf = buf[next:]
	}
	return nil
}
