// Package netstack implements the sandbox's own AF_INET and AF_INET6
// sockets (TCP and UDP) for --network=sandbox and --network=none: the
// Sentry answers every call itself and nothing reaches the host's
// network stack.
//
// Traffic between two sockets of the sandbox (127.0.0.0/8, ::1, or any
// address of the sandbox's interfaces) takes the loopback fast path: no
// packets are built; a TCP send copies the caller's bytes straight into
// the peer's receive queue, and a UDP send queues one datagram on the
// receiving socket. Destinations outside the sandbox go to the Stack's
// External hook, which a packet-level TCP/IP stack will implement; while
// it is nil they are ENETUNREACH, as on a Linux host with only lo.
//
// Lock order: an endpoint's mu, then a listener's mu (connect), then the
// Stack's mu (ports), then a TCP connection's mu or a UDP endpoint's
// receive-queue mu. Waiter queues are sometimes notified with endpoint
// locks held; their listeners (channels, epoll) never call back into a
// socket.
package netstack
