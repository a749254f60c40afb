package hostinet

import (
	"bytes"
	"context"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// Option is one socket option the application may pass to the host.
type Option struct {
	Level, Name int
	// Get and Set say which directions are allowed.
	Get, Set bool
	// Size is the host buffer of a get (the host reports how much it
	// filled) and the most a set passes (longer values are cut to it,
	// which is all Linux reads of them).
	Size int
}

// Sizes of option values.
const (
	sizeInt       = 4
	sizeLinger    = 8 // struct linger
	sizeTCPInfo   = 512
	sizeCongName  = 16 // TCP_CA_NAME_MAX
	sizeIPMreqn   = 12 // struct ip_mreqn (ip_mreq is 8)
	sizeIPv6Mreq  = 20 // struct ipv6_mreq
	solNetlink    = 270
	netlinkAddMem = 1
	netlinkDelMem = 2
)

func intOpt(level, name int) Option {
	return Option{Level: level, Name: name, Get: true, Set: true, Size: sizeInt}
}

func getOnly(level, name, size int) Option {
	return Option{Level: level, Name: name, Get: true, Size: size}
}

// AllowedOptions are the socket options that reach the host socket.
// Anything else is ENOPROTOOPT here; the seccomp filter allows exactly
// these (level, name) pairs. None of them needs a host privilege the
// application lacks in the sandbox: options that would (SO_BINDTODEVICE,
// SO_MARK, SO_PRIORITY above 6, IP_TRANSPARENT, buffer FORCE variants)
// are not listed, and TCP_CONGESTION is checked in SetSockOpt.
var AllowedOptions = []Option{
	intOpt(unix.SOL_SOCKET, unix.SO_REUSEADDR),
	getOnly(unix.SOL_SOCKET, unix.SO_TYPE, sizeInt),
	getOnly(unix.SOL_SOCKET, unix.SO_ERROR, sizeInt),
	intOpt(unix.SOL_SOCKET, unix.SO_BROADCAST),
	intOpt(unix.SOL_SOCKET, unix.SO_SNDBUF),
	intOpt(unix.SOL_SOCKET, unix.SO_RCVBUF),
	intOpt(unix.SOL_SOCKET, unix.SO_KEEPALIVE),
	intOpt(unix.SOL_SOCKET, unix.SO_OOBINLINE),
	{Level: unix.SOL_SOCKET, Name: unix.SO_LINGER, Get: true, Set: true, Size: sizeLinger},
	intOpt(unix.SOL_SOCKET, unix.SO_REUSEPORT),
	intOpt(unix.SOL_SOCKET, unix.SO_RCVLOWAT),
	getOnly(unix.SOL_SOCKET, unix.SO_ACCEPTCONN, sizeInt),
	getOnly(unix.SOL_SOCKET, unix.SO_PROTOCOL, sizeInt),
	getOnly(unix.SOL_SOCKET, unix.SO_DOMAIN, sizeInt),

	intOpt(unix.IPPROTO_TCP, unix.TCP_NODELAY),
	intOpt(unix.IPPROTO_TCP, unix.TCP_MAXSEG),
	intOpt(unix.IPPROTO_TCP, unix.TCP_CORK),
	intOpt(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE),
	intOpt(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL),
	intOpt(unix.IPPROTO_TCP, unix.TCP_KEEPCNT),
	intOpt(unix.IPPROTO_TCP, unix.TCP_SYNCNT),
	intOpt(unix.IPPROTO_TCP, unix.TCP_LINGER2),
	intOpt(unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT),
	getOnly(unix.IPPROTO_TCP, unix.TCP_INFO, sizeTCPInfo),
	intOpt(unix.IPPROTO_TCP, unix.TCP_QUICKACK),
	{Level: unix.IPPROTO_TCP, Name: unix.TCP_CONGESTION, Get: true, Set: true, Size: sizeCongName},
	intOpt(unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT),
	intOpt(unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT),

	intOpt(unix.IPPROTO_IP, unix.IP_TOS),
	intOpt(unix.IPPROTO_IP, unix.IP_TTL),
	intOpt(unix.IPPROTO_IP, unix.IP_PKTINFO),
	intOpt(unix.IPPROTO_IP, unix.IP_MTU_DISCOVER),
	intOpt(unix.IPPROTO_IP, unix.IP_RECVERR),
	intOpt(unix.IPPROTO_IP, unix.IP_RECVTTL),
	intOpt(unix.IPPROTO_IP, unix.IP_RECVTOS),
	getOnly(unix.IPPROTO_IP, unix.IP_MTU, sizeInt),
	intOpt(unix.IPPROTO_IP, unix.IP_FREEBIND),
	intOpt(unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT),
	intOpt(unix.IPPROTO_IP, unix.IP_MULTICAST_TTL),
	intOpt(unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP),
	{Level: unix.IPPROTO_IP, Name: unix.IP_MULTICAST_IF, Get: true, Set: true, Size: sizeIPMreqn},
	{Level: unix.IPPROTO_IP, Name: unix.IP_ADD_MEMBERSHIP, Set: true, Size: sizeIPMreqn},
	{Level: unix.IPPROTO_IP, Name: unix.IP_DROP_MEMBERSHIP, Set: true, Size: sizeIPMreqn},

	intOpt(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_TCLASS),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_RECVERR),
	intOpt(unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER),
	getOnly(unix.IPPROTO_IPV6, unix.IPV6_MTU, sizeInt),
	{Level: unix.IPPROTO_IPV6, Name: unix.IPV6_JOIN_GROUP, Set: true, Size: sizeIPv6Mreq},
	{Level: unix.IPPROTO_IPV6, Name: unix.IPV6_LEAVE_GROUP, Set: true, Size: sizeIPv6Mreq},

	intOpt(unix.IPPROTO_UDP, unix.UDP_CORK),

	{Level: solNetlink, Name: netlinkAddMem, Set: true, Size: sizeInt},
	{Level: solNetlink, Name: netlinkDelMem, Set: true, Size: sizeInt},
	intOpt(solNetlink, unix.NETLINK_CAP_ACK),
	intOpt(solNetlink, unix.NETLINK_EXT_ACK),
	intOpt(solNetlink, unix.NETLINK_GET_STRICT_CHK),
}

type optKey struct{ level, name int }

var allowed = func() map[optKey]Option {
	m := make(map[optKey]Option, len(AllowedOptions))
	for _, o := range AllowedOptions {
		m[optKey{o.Level, o.Name}] = o
	}
	return m
}()

// OptionNames returns, per level, the option names of AllowedOptions
// that may be got (get) or set (!get), sorted.
func OptionNames(get bool) map[int][]int {
	m := map[int][]int{}
	for _, o := range AllowedOptions {
		if (get && o.Get) || (!get && o.Set) {
			m[o.Level] = append(m[o.Level], o.Name)
		}
	}
	for _, v := range m {
		sort.Ints(v)
	}
	return m
}

// lookupOption returns the option if level and name are allowed for
// this socket's family.
func (s *Socket) lookupOption(level, name int) (Option, bool) {
	o, ok := allowed[optKey{level, name}]
	if !ok {
		return Option{}, false
	}
	// Netlink sockets take only their own and SOL_SOCKET options, inet
	// sockets never netlink's.
	if (s.family == unix.AF_NETLINK) != (level == solNetlink) && level != unix.SOL_SOCKET {
		return Option{}, false
	}
	return o, true
}

// GetSockOpt implements socket.Socket.
func (s *Socket) GetSockOpt(_ context.Context, level, name int) ([]byte, error) {
	if level == unix.SOL_SOCKET && (name == unix.SO_RCVTIMEO || name == unix.SO_SNDTIMEO) {
		t := &s.rcvTimeout
		if name == unix.SO_SNDTIMEO {
			t = &s.sndTimeout
		}
		return socket.TimevalBytes(time.Duration(t.Load())), nil
	}
	o, ok := s.lookupOption(level, name)
	if !ok || !o.Get {
		return nil, linux.ENOPROTOOPT
	}
	buf := make([]byte, o.Size)
	n, err := hostGetsockopt(s.fd, level, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// SetSockOpt implements socket.Socket.
func (s *Socket) SetSockOpt(level, name int, val []byte) error {
	if level == unix.SOL_SOCKET && (name == unix.SO_RCVTIMEO || name == unix.SO_SNDTIMEO) {
		d, err := socket.ParseTimeval(val)
		if err != nil {
			return err
		}
		ns := int64(d)
		if name == unix.SO_SNDTIMEO {
			s.sndTimeout.Store(ns)
		} else {
			s.rcvTimeout.Store(ns)
		}
		return nil
	}
	o, ok := s.lookupOption(level, name)
	if !ok || !o.Set {
		return linux.ENOPROTOOPT
	}
	if len(val) > o.Size {
		val = val[:o.Size]
	}
	if level == unix.IPPROTO_TCP && name == unix.TCP_CONGESTION {
		if err := s.checkCongestion(val); err != nil {
			return err
		}
	}
	return hostSetsockopt(s.fd, level, name, val)
}

// checkCongestion allows choosing the socket's current algorithm and
// the built-in reno and cubic. The Sentry may hold CAP_NET_ADMIN on the
// host, with which Linux lets a socket pick any algorithm, loading its
// module: the application must not inherit that.
func (s *Socket) checkCongestion(val []byte) error {
	name := val
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	switch string(name) {
	case "reno", "cubic":
		return nil
	}
	cur := make([]byte, sizeCongName)
	n, err := hostGetsockopt(s.fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, cur)
	if err != nil {
		return err
	}
	cur = cur[:n]
	if i := bytes.IndexByte(cur, 0); i >= 0 {
		cur = cur[:i]
	}
	if len(name) == 0 || !bytes.Equal(name, cur) {
		return linux.EPERM
	}
	return nil
}
