package netstack

// Protocol numbers, option levels and option names of ip(7), ipv6(7),
// tcp(7), udp(7) and socket(7) that these sockets decode.
const (
	ipprotoIP   = 0
	ipprotoTCP  = 6
	ipprotoUDP  = 17
	ipprotoIPv6 = 41

	// SOL_SOCKET options beyond those package socket names.

	// IPPROTO_IP options.
	ipTOS = 1
	ipTTL = 2

	// IPPROTO_IPV6 options.
	ipv6UnicastHops = 16
	ipv6V6Only      = 26
	ipv6TClass      = 67

	// IPPROTO_TCP options.
	tcpNoDelay     = 1
	tcpMaxSeg      = 2
	tcpCork        = 3
	tcpKeepIdle    = 4
	tcpKeepIntvl   = 5
	tcpKeepCnt     = 6
	tcpInfo        = 11
	tcpQuickAck    = 12
	tcpCongestion  = 13
	tcpUserTimeout = 18
)

// TCP states as tcp_info.tcpi_state and /proc/net/tcp report them.
const (
	linuxEstablished = 1
	linuxSynSent     = 2
	linuxFinWait2    = 5
	linuxClose       = 7
	linuxCloseWait   = 8
	linuxListen      = 10
)

// Socket ioctls (sockios.h).
const (
	siocOutQ       = 0x5411 // TIOCOUTQ
	siocInQ        = 0x541b // FIONREAD
	siocAtMark     = 0x8905
	siocGIfName    = 0x8910
	siocGIfConf    = 0x8912
	siocGIfFlags   = 0x8913
	siocGIfAddr    = 0x8915
	siocGIfBrdAddr = 0x8919
	siocGIfNetmask = 0x891b
	siocGIfMetric  = 0x891d
	siocGIfMTU     = 0x8921
	siocGIfHwAddr  = 0x8927
	siocGIfIndex   = 0x8933
	siocGIfTxQLen  = 0x8942
)

// Sizes of the structures these sockets exchange with applications.
const (
	sizeofSockaddrIn  = 16
	sizeofSockaddrIn6 = 28
	// sin6LenRFC2133 is the shortest sockaddr_in6 Linux accepts: the
	// structure before sin6_scope_id existed.
	sin6LenRFC2133 = 24
	sizeofIfreq    = 40
	sizeofIfconf   = 16
)
