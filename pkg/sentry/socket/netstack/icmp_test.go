package netstack

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// icmpNet is an External stack that records the ICMP messages sent.
type icmpNet struct {
	sent []sentICMP
}

type sentICMP struct {
	src, dst netip.Addr
	msg      []byte
	ttl      uint8
}

func (n *icmpNet) Route(netip.Addr) (netip.Addr, error) { return netip.MustParseAddr("10.1.2.2"), nil }
func (n *icmpNet) ConnectTCP(context.Context, netip.AddrPort, netip.AddrPort, *FarEnd) error {
	return linux.ENETUNREACH
}
func (n *icmpNet) SendUDP(netip.AddrPort, netip.AddrPort, []byte) error { return nil }
func (n *icmpNet) SendICMP(src, dst netip.Addr, msg []byte, ttl, _ uint8) error {
	n.sent = append(n.sent, sentICMP{src, dst, append([]byte(nil), msg...), ttl})
	return nil
}

func userCtx(gid auth.KGID) context.Context {
	c := auth.NewUserCredentials(1000, gid, nil, auth.NewRootUserNamespace())
	return auth.ContextWithCredentials(context.Background(), c)
}

func sin(a string) []byte {
	return formatSockaddr(socket.AF_INET, netip.AddrPortFrom(netip.MustParseAddr(a), 0))
}

// TestPingGroupRange: ping sockets follow net.ipv4.ping_group_range.
func TestPingGroupRange(t *testing.T) {
	s := NewStack()
	if _, err := newICMP(userCtx(1000), s, nil, socket.AF_INET, false); err != nil {
		t.Fatalf("default range refused gid 1000: %v", err)
	}
	s.SetPingGroupRange(1, 0)
	if _, err := newICMP(userCtx(0), s, nil, socket.AF_INET, false); err != linux.EACCES {
		t.Fatalf("empty range: %v, want EACCES", err)
	}
	s.SetPingGroupRange(5, 10)
	c := auth.NewUserCredentials(1000, 1000, []auth.KGID{7}, auth.NewRootUserNamespace())
	if _, err := newICMP(auth.ContextWithCredentials(context.Background(), c), s, nil, socket.AF_INET6, false); err != nil {
		t.Fatalf("supplementary group in range: %v", err)
	}
	if lo, hi := s.PingGroupRange(); lo != 5 || hi != 10 {
		t.Fatalf("PingGroupRange = %d %d", lo, hi)
	}
}

// TestPingExternal: an echo request to outside leaves through the
// External stack with the socket's identifier and a valid checksum; the
// reply and an ICMP error coming back reach the socket.
func TestPingExternal(t *testing.T) {
	s := ethStack(t)
	x := &icmpNet{}
	s.External = x
	ctx := userCtx(0)
	e, err := newICMP(ctx, s, nil, socket.AF_INET, false)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Release(ctx)
	if err := e.SetSockOpt(ipprotoIP, ipRecvErr, socket.Int32Bytes(1)); err != nil {
		t.Fatal(err)
	}
	if err := e.SetSockOpt(ipprotoIP, ipTTL, socket.Int32Bytes(9)); err != nil {
		t.Fatal(err)
	}
	req := []byte{icmpEchoRequest, 0, 0, 0, 0xaa, 0xbb, 0, 1, 'h', 'i'}
	if _, err := e.SendMsg(ctx, vfs.BytesIOSequence(req), sin("192.0.2.7"), nil, nil, 0, true); err != nil {
		t.Fatal(err)
	}
	if len(x.sent) != 1 {
		t.Fatalf("sent %d messages", len(x.sent))
	}
	m := x.sent[0]
	id := binary.BigEndian.Uint16(m.msg[4:])
	if id != e.ident || id == 0 || m.src != netip.MustParseAddr("10.1.2.2") || m.ttl != 9 || icmpChecksum(m.src, m.dst, m.msg) != 0 {
		t.Fatalf("sent %+v, ident %d", m, e.ident)
	}

	reply := append([]byte(nil), m.msg...)
	reply[0] = icmpEchoReply
	setICMPChecksum(m.dst, m.src, reply)
	s.DeliverICMP(m.dst, m.src, true, 50, 0, nil, reply, true)
	buf := make([]byte, 64)
	res, err := e.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, true)
	if err != nil || res.N != int64(len(reply)) || buf[0] != icmpEchoReply {
		t.Fatalf("RecvMsg = %+v, %v", res, err)
	}

	// Host unreachable from the gateway, quoting our request.
	quote := make([]byte, 20, 20+len(m.msg))
	quote[0], quote[9] = 0x45, ipprotoICMP
	copy(quote[12:], m.src.AsSlice())
	copy(quote[16:], m.dst.AsSlice())
	quote = append(quote, m.msg...)
	icmpErr := append([]byte{icmpDestUnreach, 1, 0, 0, 0, 0, 0, 0}, quote...)
	setICMPChecksum(m.dst, m.src, icmpErr)
	gw := netip.MustParseAddr("10.1.2.1")
	s.DeliverICMP(gw, m.src, true, 64, 0, nil, icmpErr, true)
	res, err = e.RecvMsg(ctx, vfs.BytesIOSequence(buf), msgErrQueue, true)
	if err != nil || res.N != int64(len(m.msg)) || len(res.Control) < socket.SizeofCmsghdr+sizeofSockExtendedErr {
		t.Fatalf("error queue: %+v, %v", res, err)
	}
	ee := res.Control[socket.SizeofCmsghdr:]
	if linux.Errno(binary.LittleEndian.Uint32(ee)) != linux.EHOSTUNREACH || ee[4] != soEEOriginICMP || ee[5] != icmpDestUnreach {
		t.Fatalf("extended error %v", ee[:16])
	}
	if off := ee[16+4 : 16+8]; netip.AddrFrom4([4]byte(off)) != gw {
		t.Fatalf("offender %v", off)
	}
	if _, err := e.RecvMsg(ctx, vfs.BytesIOSequence(buf), msgErrQueue, true); err != linux.EAGAIN {
		t.Fatalf("second error read: %v", err)
	}
}

// TestRawFilterAndLoopback: a raw socket on the loopback path sees the
// request and the sandbox's reply, minus what ICMP_FILTER blocks.
func TestRawFilterAndLoopback(t *testing.T) {
	s := NewStack()
	ctx := context.Background()
	r, err := newICMP(ctx, s, nil, socket.AF_INET, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release(ctx)
	req := []byte{icmpEchoRequest, 0, 0, 0, 0, 5, 0, 1}
	setICMPChecksum(netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1"), req)
	if _, err := r.SendMsg(ctx, vfs.BytesIOSequence(req), sin("127.0.0.1"), nil, nil, 0, true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for _, want := range []byte{icmpEchoRequest, icmpEchoReply} {
		res, err := r.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, true)
		if err != nil || res.N != 28 || buf[0] != 0x45 || buf[20] != want {
			t.Fatalf("RecvMsg = %+v, %v, % x; want type %d", res, err, buf[:28], want)
		}
	}
	if err := r.SetSockOpt(solRaw, icmpFilter, socket.Int32Bytes(^int32(1<<icmpEchoReply))); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SendMsg(ctx, vfs.BytesIOSequence(req), sin("127.0.0.1"), nil, nil, 0, true); err != nil {
		t.Fatal(err)
	}
	if res, err := r.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, true); err != nil || buf[20] != icmpEchoReply {
		t.Fatalf("filtered RecvMsg = %+v, %v", res, err)
	}
	if _, err := r.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, true); err != linux.EAGAIN {
		t.Fatalf("request passed the filter: %v", err)
	}
}
