// Package hostinet implements the inet sockets of --network=host: every
// AF_INET or AF_INET6 socket (SOCK_STREAM, SOCK_DGRAM) and every
// AF_NETLINK NETLINK_ROUTE socket the application creates is one host
// socket that the Sentry opens on its behalf, in the host's network
// namespace. The host kernel's TCP/IP stack does the networking; this
// package decides what the application may ask of it.
//
// Blocking. Host sockets are always O_NONBLOCK and every host call is
// made with MSG_DONTWAIT, so no Sentry thread ever parks in the host
// kernel. When a call would block on a socket the application did not
// make non-blocking, the task sleeps on the socket's waiter.Queue, which
// pkg/fdnotifier fills from host epoll edges; a signal interrupts the
// sleep (ERESTARTSYS, or EINTR when SO_RCVTIMEO/SO_SNDTIMEO is set, as
// Linux's sock_intr_errno does). SO_RCVTIMEO and SO_SNDTIMEO live here
// and are never set on the host socket. MSG_WAITALL is looped here too.
//
// What passes to the host, and what does not:
//   - addresses are handed to the host unchanged (it validates them
//     exactly as Linux does), except that binding a port below 1024
//     needs CAP_NET_BIND_SERVICE in the sandbox: the Sentry itself may be
//     privileged on the host;
//   - socket options only from an explicit (level, name) allow-list
//     (sockopt.go), with bounded lengths; everything else is
//     ENOPROTOOPT without reaching the host;
//   - ioctls: FIONREAD/SIOCINQ, SIOCOUTQ, SIOCATMARK and the read-only
//     interface queries (SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFINDEX, ...),
//     through buffers sized here (ioctl.go);
//   - control messages: from the application, only the per-datagram
//     TTL, TOS, source and interface ones of a UDP send (allowedControl:
//     IP_PKTINFO, IP_TTL, IP_TOS, IPV6_PKTINFO, IPV6_HOPLIMIT,
//     IPV6_TCLASS, ...), which the host checks; SCM_RIGHTS files are
//     dropped, as Linux ignores them on inet and netlink sockets;
//     other types are EINVAL at UDP's level and the IP level the
//     destination uses, and skipped elsewhere, as Linux skips them
//     (TCP and netlink sockets skip them all); the host's
//     (IP_PKTINFO, IPV6_PKTINFO, IP_TOS/TTL, the error queue's) are
//     returned in socket.RecvResult.Control;
//   - netlink: only requests Linux lets an unprivileged process make
//     (RTM_GET*, i.e. queries and dumps), addressed to the kernel; a
//     message that would change the host's links, addresses or routes is
//     EPERM before it reaches the host (netlink.go);
//   - SOCK_RAW inet sockets are EPERM whatever the application's
//     capabilities: a raw host socket could forge any packet on the
//     host's interfaces, and the Sentry's seccomp filter does not allow
//     creating one. This is what Linux answers a container process
//     without CAP_NET_RAW (the hardened default). ICMP ping sockets and
//     protocols other than TCP and UDP are EPROTONOSUPPORT.
//
// Host sockets cannot be checkpointed; the types here are not savable.
//
// Host system calls made at run time (for the Sentry's seccomp filter,
// runsc/boot/filter, Options.HostNetwork), besides pkg/fdnotifier's:
//   - socket(AF_INET|AF_INET6, SOCK_STREAM|SOCK_DGRAM|SOCK_NONBLOCK|
//     SOCK_CLOEXEC, 0|IPPROTO_TCP|IPPROTO_UDP) and
//     socket(AF_NETLINK, SOCK_RAW|SOCK_DGRAM|..., NETLINK_ROUTE);
//   - bind, listen, connect, accept4(fd, NULL, NULL, SOCK_NONBLOCK|
//     SOCK_CLOEXEC), shutdown, getsockname, getpeername;
//   - sendmsg, recvmsg (all data goes through these two);
//   - getsockopt/setsockopt with the (level, name) pairs of
//     AllowedOptions;
//   - ioctl with the requests of AllowedIoctls;
//   - close.
package hostinet
