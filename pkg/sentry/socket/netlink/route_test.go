package netlink

import (
	"encoding/binary"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/netstack"
)

// messages splits a datagram into its netlink messages, checking the
// framing.
func messages(t *testing.T, d []byte) []header {
	t.Helper()
	var hs []header
	for len(d) > 0 {
		if len(d) < sizeofNlmsghdr {
			t.Fatalf("%d trailing bytes", len(d))
		}
		h := parseHeader(d)
		if int(h.len) > len(d) || h.len < sizeofNlmsghdr {
			t.Fatalf("bad length %d with %d bytes left", h.len, len(d))
		}
		hs = append(hs, h)
		d = d[min(align4(int(h.len)), len(d)):]
	}
	return hs
}

func TestAddrDumpFiltersFamily(t *testing.T) {
	s := netstack.NewStack()
	for _, tc := range []struct {
		family, want int
	}{{socket.AF_UNSPEC, 2}, {socket.AF_INET, 1}, {socket.AF_INET6, 1}} {
		var r reply
		req := request{h: header{typ: rtmGetAddr, flags: nlmFRequest | nlmFDump, seq: 5}, payload: []byte{byte(tc.family), 0, 0, 0}, portID: 77}
		handle(s, req, false, false, &r)
		if len(r.dgrams) != 2 {
			t.Fatalf("family %d: %d datagrams, want the dump and NLMSG_DONE", tc.family, len(r.dgrams))
		}
		hs := messages(t, r.dgrams[0])
		if len(hs) != tc.want {
			t.Errorf("family %d: %d addresses, want %d", tc.family, len(hs), tc.want)
		}
		for _, h := range hs {
			if h.typ != rtmNewAddr || h.seq != 5 || h.pid != 77 || h.flags&nlmFMulti == 0 {
				t.Errorf("family %d: message %+v", tc.family, h)
			}
		}
		done := messages(t, r.dgrams[1])
		if len(done) != 1 || done[0].typ != nlmsgDone {
			t.Errorf("family %d: last datagram %+v, want NLMSG_DONE", tc.family, done)
		}
	}
}

func TestErrorsAndAcks(t *testing.T) {
	s := netstack.NewStack()
	check := func(name string, typ, flags uint16, payload []byte, admin bool, want linux.Errno) {
		t.Helper()
		var r reply
		handle(s, request{h: header{len: uint32(sizeofNlmsghdr + len(payload)), typ: typ, flags: flags, seq: 9}, payload: payload}, admin, false, &r)
		last := r.dgrams[len(r.dgrams)-1]
		hs := messages(t, last)
		if hs[0].typ != nlmsgError {
			t.Fatalf("%s: reply type %d, want NLMSG_ERROR", name, hs[0].typ)
		}
		if got := -int32(binary.LittleEndian.Uint32(last[sizeofNlmsghdr:])); got != int32(want) {
			t.Errorf("%s: error %d, want %d", name, got, want)
		}
	}
	ifi := make([]byte, sizeofIfinfomsg)
	binary.LittleEndian.PutUint32(ifi[4:], 99)
	check("unknown link", rtmGetLink, nlmFRequest, ifi, false, linux.ENODEV)
	binary.LittleEndian.PutUint32(ifi[4:], 1)
	check("ack", rtmGetLink, nlmFRequest|nlmFAck, ifi, false, 0)
	check("new address unprivileged", rtmNewAddr, nlmFRequest, make([]byte, 8), false, linux.EPERM)
	check("new address privileged", rtmNewAddr, nlmFRequest, make([]byte, 8), true, linux.EOPNOTSUPP)
	check("unknown get", 30 /* RTM_GETNEIGH */, nlmFRequest|nlmFDump, make([]byte, 4), false, linux.EOPNOTSUPP)
}
