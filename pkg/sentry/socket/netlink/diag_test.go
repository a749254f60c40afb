package netlink

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// fakeStack is a socket.NetStack with a fixed socket list.
type fakeStack struct {
	tcp4, tcp6 []socket.InetSocketInfo
	blind      bool
}

func (f *fakeStack) InterfaceIoctl(context.Context, vfs.UserMemory, uint32, uint64) (uint64, error) {
	return 0, linux.ENOTTY
}
func (f *fakeStack) NetInterfaces() []socket.NetInterface { return nil }
func (f *fakeStack) NetRoutes() []socket.NetRoute         { return nil }
func (f *fakeStack) InetSockets(proto string, version int) ([]socket.InetSocketInfo, bool) {
	if f.blind {
		return nil, false
	}
	if proto != "tcp" {
		return nil, true
	}
	if version == 6 {
		return f.tcp6, true
	}
	return f.tcp4, true
}

func testStack() *fakeStack {
	ap := netip.MustParseAddrPort
	return &fakeStack{
		tcp4: []socket.InetSocketInfo{
			{Local: ap("127.0.0.1:80"), Remote: ap("0.0.0.0:0"), State: 10, RxQueue: 1, TxQueue: 128},
			{Local: ap("127.0.0.1:80"), Remote: ap("127.0.0.1:40000"), State: 1, RxQueue: 5},
			{Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.1:80"), State: 1},
		},
		tcp6: []socket.InetSocketInfo{
			{Local: ap("[::ffff:127.0.0.1]:8080"), Remote: ap("[::]:0"), State: 10},
		},
	}
}

// diagRequest is a SOCK_DIAG_BY_FAMILY request's payload.
func diagRequest(family, protocol byte, states uint32, bytecode []byte) []byte {
	p := make([]byte, sizeofInetDiagReqV2)
	p[0], p[1] = family, protocol
	binary.LittleEndian.PutUint32(p[4:], states)
	if bytecode != nil {
		a := make([]byte, 4, 4+len(bytecode))
		binary.LittleEndian.PutUint16(a, uint16(4+len(bytecode)))
		binary.LittleEndian.PutUint16(a[2:], inetDiagReqBytecode)
		p = append(p, append(a, bytecode...)...)
	}
	return p
}

// runDiag sends one request and returns every answer message's header
// and payload.
func runDiag(t *testing.T, ns socket.NetStack, flags uint16, payload []byte) ([]header, [][]byte) {
	t.Helper()
	var r reply
	req := request{h: header{typ: sockDiagByFamily, flags: nlmFRequest | flags, seq: 9}, payload: payload, portID: 33}
	handleDiag(diagSource{ns: ns}, req, false, &r)
	var hs []header
	var ps [][]byte
	for _, d := range r.dgrams {
		for len(d) > 0 {
			h := parseHeader(d)
			if h.len < sizeofNlmsghdr || int(h.len) > len(d) || h.seq != 9 || h.pid != 33 {
				t.Fatalf("bad message header %+v", h)
			}
			hs = append(hs, h)
			ps = append(ps, d[sizeofNlmsghdr:h.len])
			d = d[min(align4(int(h.len)), len(d)):]
		}
	}
	return hs, ps
}

// errnoOf returns the error an NLMSG_ERROR payload carries.
func errnoOf(p []byte) linux.Errno { return linux.Errno(-int32(binary.LittleEndian.Uint32(p))) }

func TestDiagDumpTCP4(t *testing.T) {
	hs, ps := runDiag(t, testStack(), nlmFDump, diagRequest(socket.AF_INET, ipprotoTCP, ^uint32(0), nil))
	if len(hs) != 4 || hs[3].typ != nlmsgDone {
		t.Fatalf("%d messages %+v, want 3 sockets and NLMSG_DONE", len(hs), hs)
	}
	for i, h := range hs[:3] {
		if h.typ != sockDiagByFamily || h.flags&nlmFMulti == 0 || len(ps[i]) != sizeofInetDiagMsg {
			t.Fatalf("message %d: %+v, %d bytes", i, h, len(ps[i]))
		}
	}
	est := ps[1]
	if est[0] != socket.AF_INET || est[1] != 1 || binary.BigEndian.Uint16(est[4:]) != 80 || binary.BigEndian.Uint16(est[6:]) != 40000 {
		t.Errorf("established socket: family %d state %d ports %x", est[0], est[1], est[4:8])
	}
	if netip.AddrFrom4([4]byte(est[8:12])) != netip.MustParseAddr("127.0.0.1") || binary.LittleEndian.Uint32(est[56:]) != 5 {
		t.Errorf("established socket: src %x rqueue %d", est[8:12], binary.LittleEndian.Uint32(est[56:]))
	}
	if l := ps[0]; l[1] != 10 || binary.LittleEndian.Uint32(l[56:]) != 1 || binary.LittleEndian.Uint32(l[60:]) != 128 {
		t.Errorf("listener: state %d queues %x", l[1], l[56:64])
	}
}

func TestDiagStatesFilter(t *testing.T) {
	hs, ps := runDiag(t, testStack(), nlmFDump, diagRequest(socket.AF_INET, ipprotoTCP, 1<<10, nil))
	if len(hs) != 2 || ps[0][1] != 10 {
		t.Fatalf("listeners only: %d messages", len(hs))
	}
	hs, _ = runDiag(t, testStack(), nlmFDump, diagRequest(socket.AF_INET6, ipprotoTCP, 1<<1, nil))
	if len(hs) != 1 || hs[0].typ != nlmsgDone {
		t.Fatalf("no established IPv6 socket: %d messages", len(hs))
	}
}

func TestDiagBytecode(t *testing.T) {
	// sport = :80, as ss compiles it: S_EQ, yes to the end, no one op
	// past the end.
	sport80 := []byte{bcSEq, 8, 12, 0, 0, 0, 80, 0}
	hs, _ := runDiag(t, testStack(), nlmFDump, diagRequest(socket.AF_INET, ipprotoTCP, ^uint32(0), sport80))
	if len(hs) != 3 {
		t.Errorf("sport = :80 matched %d sockets, want 2", len(hs)-1)
	}
	// dst 127.0.0.1/32 port any, on the v6 table: matches nothing
	// (the listener's peer is ::), then src 127.0.0.1 matches the
	// v4-mapped listener.
	cond := func(code byte) []byte {
		return []byte{code, 16, 20, 0, socket.AF_INET, 32, 0, 0, 0xff, 0xff, 0xff, 0xff, 127, 0, 0, 1}
	}
	if hs, _ := runDiag(t, testStack(), nlmFDump, diagRequest(socket.AF_INET6, ipprotoTCP, ^uint32(0), cond(bcDCond))); len(hs) != 1 {
		t.Errorf("dst 127.0.0.1 matched %d v6 sockets, want 0", len(hs)-1)
	}
	if hs, _ := runDiag(t, testStack(), nlmFDump, diagRequest(socket.AF_INET6, ipprotoTCP, ^uint32(0), cond(bcSCond))); len(hs) != 2 {
		t.Errorf("src 127.0.0.1 matched %d v6 sockets, want the v4-mapped listener", len(hs)-1)
	}
	for _, bad := range [][]byte{
		{99, 4, 8, 0},                  // unknown op
		{bcSEq, 4, 12, 0, 0, 0, 80, 0}, // yes inside the operand
		{bcSEq, 8, 6, 0, 0, 0, 80, 0},  // no not a multiple of 4
		{bcSEq, 8, 12, 0, 0, 0},        // truncated operand
	} {
		hs, ps := runDiag(t, testStack(), nlmFDump, diagRequest(socket.AF_INET, ipprotoTCP, ^uint32(0), bad))
		if len(hs) != 1 || hs[0].typ != nlmsgError || errnoOf(ps[0]) != linux.EINVAL {
			t.Errorf("bytecode %v: want one EINVAL error, got %+v", bad, hs)
		}
	}
}

func TestDiagErrors(t *testing.T) {
	for _, tc := range []struct {
		ns      socket.NetStack
		payload []byte
		want    linux.Errno
	}{
		{testStack(), diagRequest(17 /* AF_PACKET */, 0, ^uint32(0), nil), linux.ENOENT},
		{testStack(), diagRequest(socket.AF_UNIX, 0, 0, nil)[:20], linux.EINVAL},
		{testStack(), diagRequest(afMax, 0, 0, nil), linux.EINVAL},
		{testStack(), diagRequest(socket.AF_INET, ipprotoTCP, 0, nil)[:20], linux.EINVAL},
	} {
		hs, ps := runDiag(t, tc.ns, nlmFDump, tc.payload)
		if len(hs) != 1 || hs[0].typ != nlmsgError || errnoOf(ps[0]) != tc.want {
			t.Errorf("payload %x: want one error %v, got %+v", tc.payload[:2], tc.want, hs)
		}
	}
	// Errors found once a dump has begun end it: NLMSG_DONE carries
	// them.
	for _, tc := range []struct {
		ns      socket.NetStack
		payload []byte
	}{
		{testStack(), diagRequest(socket.AF_INET, 255, ^uint32(0), nil)},
		{&fakeStack{blind: true}, diagRequest(socket.AF_INET, ipprotoTCP, ^uint32(0), nil)},
	} {
		hs, ps := runDiag(t, tc.ns, nlmFDump, tc.payload)
		if len(hs) != 1 || hs[0].typ != nlmsgDone || hs[0].flags&nlmFMulti == 0 || errnoOf(ps[0]) != linux.ENOENT {
			t.Errorf("payload %x: want NLMSG_DONE with ENOENT, got %+v", tc.payload[:2], hs)
		}
	}
}

func TestDiagLookup(t *testing.T) {
	p := diagRequest(socket.AF_INET, ipprotoTCP, 0, nil)
	binary.BigEndian.PutUint16(p[8:], 40000)
	binary.BigEndian.PutUint16(p[10:], 80)
	copy(p[12:], []byte{127, 0, 0, 1})
	copy(p[28:], []byte{127, 0, 0, 1})
	hs, ps := runDiag(t, testStack(), 0, p)
	if len(hs) != 1 || hs[0].typ != sockDiagByFamily || hs[0].flags != 0 || binary.BigEndian.Uint16(ps[0][4:]) != 40000 {
		t.Fatalf("lookup: %+v", hs)
	}
	binary.BigEndian.PutUint16(p[8:], 40001)
	if hs, ps := runDiag(t, testStack(), 0, p); len(hs) != 1 || errnoOf(ps[0]) != linux.ENOENT {
		t.Fatalf("lookup of no socket: %+v", hs)
	}
}
