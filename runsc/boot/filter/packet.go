package filter

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/seccomp"
)

// packetLinkRules are pkg/tcpip/link/packet's calls, for --network=sandbox
// with an interface taken over (Options.PacketFD): batched reads and
// writes of Ethernet frames on that one AF_PACKET socket, with the only
// flags the endpoint uses. close is on the base list.
func packetLinkRules(fd int) seccomp.SyscallRules {
	sock := seccomp.Eq(uint64(fd))
	return seccomp.SyscallRules{
		unix.SYS_RECVMMSG: {{Args: [6]seccomp.Match{0: sock, 3: seccomp.Eq(unix.MSG_WAITFORONE), 4: seccomp.Eq(0)}}},
		unix.SYS_SENDMMSG: {{Args: [6]seccomp.Match{0: sock, 3: seccomp.Eq(0)}}},
	}
}
