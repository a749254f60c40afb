package netstack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// This file is ICMP input: who gets an ICMP message that reaches the
// sandbox, whether a socket of the sandbox sent it to one of the
// sandbox's own addresses (the loopback path, where the sandbox answers
// echo requests itself, as Linux's lo does) or it came in through the
// packet stack (which answers echo requests on its own).

// ICMP types the sandbox acts on.
const (
	icmpEchoReply     = 0
	icmpEchoRequest   = 8
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
	icmpHeaderLen     = 8
)

// Protocol numbers of ICMP sockets.
const (
	ipprotoICMP   = 1
	ipprotoICMPv6 = 58
)

// ICMPExternal is what the External stack implements to carry ICMP
// sockets' messages outside the sandbox.
type ICMPExternal interface {
	// SendICMP sends msg, a complete ICMP or ICMPv6 message with its
	// checksum, from src (one of the stack's addresses) to dst, with
	// the given TTL (or hop limit; 0 for the default) and TOS.
	SendICMP(src, dst netip.Addr, msg []byte, ttl, tos uint8) error
}

// Default net.ipv4.ping_group_range of the sandbox: every group, as
// Docker and Podman set it in a container's network namespace, so that
// ping works without CAP_NET_RAW.
const (
	pingGroupLow  = 0
	pingGroupHigh = 2147483647
)

// icmpTable holds the ICMP sockets of one Stack.
type icmpTable struct {
	// mu guards the fields below and every icmpEndpoint's ident hold.
	mu sync.Mutex
	// ping maps an echo identifier to the ping sockets holding it
	// (Linux's ping "port" space is shared by IPv4 and IPv6).
	ping map[uint16][]*icmpEndpoint
	// raw are the raw ICMP and ICMPv6 sockets.
	raw []*icmpEndpoint
	// rover is where the search for a free identifier resumes.
	rover uint16
	// groupLow and groupHigh are net.ipv4.ping_group_range.
	groupLow, groupHigh uint32

	// ipID numbers the IPv4 headers raw sockets see on loopback.
	ipID atomic.Uint32
}

func newICMPTable() *icmpTable {
	return &icmpTable{
		ping:      map[uint16][]*icmpEndpoint{},
		rover:     1,
		groupLow:  pingGroupLow,
		groupHigh: pingGroupHigh,
	}
}

func (s *Stack) icmp() *icmpTable { return s.icmpTab }

// PingGroupRange is net.ipv4.ping_group_range: the groups whose members
// may create ping sockets (SOCK_DGRAM, IPPROTO_ICMP or IPPROTO_ICMPV6).
func (s *Stack) PingGroupRange() (low, high uint32) {
	t := s.icmp()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.groupLow, t.groupHigh
}

// SetPingGroupRange changes net.ipv4.ping_group_range; low > high
// admits nobody (Linux's default "1 0").
func (s *Stack) SetPingGroupRange(low, high uint32) {
	t := s.icmp()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.groupLow, t.groupHigh = low, high
}

// icmpPacket is one ICMP message travelling to a sandbox address.
type icmpPacket struct {
	src, dst netip.Addr // 4-byte form for IPv4
	ttl, tos uint8
	// unicast says dst is a unicast address of the sandbox.
	unicast bool
	// ipHeader is the IPv4 header raw sockets see; nil on loopback,
	// where one is made up as lo would carry it.
	ipHeader []byte
	df       bool
	msg      []byte
	// checked says the checksum was verified (checksumOK holds the
	// result); otherwise input verifies it.
	checked, checksumOK bool
	// answered says the packet stack has answered an echo request.
	answered bool
}

// DeliverICMP takes an ICMP message that arrived through the packet
// stack: raw sockets get a copy and ping sockets their echo replies.
// The stack has already answered echo requests. Slices are copied.
func (s *Stack) DeliverICMP(src, dst netip.Addr, unicast bool, ttl, tos uint8, ipHeader, msg []byte, checksumOK bool) {
	s.icmp().input(s, &icmpPacket{
		src: src.Unmap(), dst: dst.Unmap(), ttl: ttl, tos: tos, unicast: unicast,
		ipHeader: ipHeader, msg: msg, checked: true, checksumOK: checksumOK, answered: true,
	})
}

// input delivers p to the sandbox's ICMP sockets and answers an echo
// request on the loopback path.
func (t *icmpTable) input(s *Stack, p *icmpPacket) {
	v4 := p.dst.Is4()
	at := time.Now()
	t.mu.Lock()
	var raws []*icmpEndpoint
	for _, e := range t.raw {
		if e.wantsRaw(p) {
			raws = append(raws, e)
		}
	}
	t.mu.Unlock()
	if len(raws) > 0 {
		data := p.msg
		if v4 {
			hdr := p.ipHeader
			if hdr == nil {
				hdr = t.loopbackHeader(p)
			}
			data = append(append(make([]byte, 0, len(hdr)+len(p.msg)), hdr...), p.msg...)
		} else {
			data = bytes.Clone(p.msg)
		}
		for _, e := range raws {
			// Each socket gets its own copy: MSG_PEEK and
			// truncation never let one reader see another's.
			e.deliver(icmpDatagram{from: p.src, data: bytes.Clone(data), ttl: p.ttl, tos: p.tos, at: at})
		}
	}
	if len(p.msg) < icmpHeaderLen {
		return
	}
	if !p.checked {
		p.checksumOK = icmpChecksum(p.src, p.dst, p.msg) == 0
	}
	if !p.checksumOK {
		return
	}
	typ := p.msg[0]
	switch {
	case v4 && (typ == icmpDestUnreach || typ == icmpTimeExceeded || typ == icmpParamProb) ||
		!v4 && typ >= icmpv6DestUnreach && typ <= icmpv6ParamProb:
		t.icmpError(p)
	case v4 && typ == icmpEchoReply || !v4 && typ == icmpv6EchoReply:
		id := binary.BigEndian.Uint16(p.msg[4:])
		if e := t.lookupPing(v4, id, p.dst); e != nil {
			e.deliver(icmpDatagram{from: p.src, data: bytes.Clone(p.msg), ttl: p.ttl, tos: p.tos, at: at})
		}
	case v4 && typ == icmpEchoRequest || !v4 && typ == icmpv6EchoRequest:
		// icmp_echo and icmpv6_echo_reply: the sandbox answers for
		// its own addresses (not for broadcasts, by
		// icmp_echo_ignore_broadcasts' default).
		if p.answered || !p.unicast || !s.isLocal(p.dst) {
			return
		}
		reply := bytes.Clone(p.msg)
		reply[0] = icmpEchoReply
		if !v4 {
			reply[0] = icmpv6EchoReply
		}
		reply[1] = 0
		setICMPChecksum(p.dst, p.src, reply)
		t.input(s, &icmpPacket{src: p.dst, dst: p.src, ttl: defaultTTL, tos: p.tos, unicast: true, msg: reply})
	}
}

// lookupPing finds the ping socket of ident for a reply to dst: of the
// packet's IP version, bound to dst or the wildcard address.
func (t *icmpTable) lookupPing(v4 bool, ident uint16, dst netip.Addr) *icmpEndpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.ping[ident] {
		if (e.family == socket.AF_INET) != v4 {
			continue
		}
		if a := e.boundAddr; a.IsValid() && !a.IsUnspecified() && a != dst {
			continue
		}
		return e
	}
	return nil
}

// loopbackHeader makes up the IPv4 header lo would carry p with.
func (t *icmpTable) loopbackHeader(p *icmpPacket) []byte {
	h := make([]byte, header.IPv4MinSize)
	id := uint16(t.ipID.Add(1))
	if p.df {
		// ip_select_ident gives unconnected DF packets ID 0.
		id = 0
	}
	header.EncodeIPv4(h, header.IPv4Fields{
		TOS: p.tos, TotalLength: uint16(header.IPv4MinSize + len(p.msg)), ID: id,
		DontFragment: p.df, TTL: p.ttl, Protocol: ipprotoICMP, Src: p.src, Dst: p.dst,
	})
	return h
}

// icmpChecksum is the checksum over an ICMP message (ICMPv6: with the
// pseudo-header); a message with a correct checksum in place gives 0.
func icmpChecksum(src, dst netip.Addr, msg []byte) uint16 {
	if dst.Is4() {
		return checksum.Checksum(msg)
	}
	return checksum.Transport(src, dst, ipprotoICMPv6, msg)
}

// setICMPChecksum fills in msg's checksum (bytes 2 and 3).
func setICMPChecksum(src, dst netip.Addr, msg []byte) {
	setChecksumAt(src, dst, msg, 2)
}

// setChecksumAt stores msg's checksum at offset off.
func setChecksumAt(src, dst netip.Addr, msg []byte, off int) {
	msg[off], msg[off+1] = 0, 0
	binary.BigEndian.PutUint16(msg[off:], icmpChecksum(src, dst, msg))
}
