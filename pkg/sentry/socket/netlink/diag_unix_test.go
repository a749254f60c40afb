package netlink

import (
	"context"
	"encoding/binary"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/unix"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func unixDiagRequest(states, ino, show uint32) []byte {
	p := make([]byte, sizeofUnixDiagReq)
	p[0] = socket.AF_UNIX
	binary.LittleEndian.PutUint32(p[4:], states)
	binary.LittleEndian.PutUint32(p[8:], ino)
	binary.LittleEndian.PutUint32(p[12:], show)
	binary.LittleEndian.PutUint64(p[16:], ^uint64(0))
	return p
}

// TestUnixDiag: a dump lists a socketpair with each end's peer, and a
// lookup finds one end by inode.
func TestUnixDiag(t *testing.T) {
	ctx := context.Background()
	a, b := unix.NewPair(ctx, vfs.New(), socket.SOCK_STREAM, false)
	defer a.DecRef(ctx)
	defer b.DecRef(ctx)
	var inos [2]uint32
	for _, in := range unix.Sockets() {
		if in.HasPeer && in.Peer != 0 {
			inos[0], inos[1] = in.Ino, in.Peer
		}
	}
	if inos[0] == 0 {
		t.Fatalf("the pair is not in the registry: %+v", unix.Sockets())
	}
	hs, ps := runDiag(t, nil, nlmFDump, unixDiagRequest(1<<unix.StateEstablished, 0, udiagShowPeer))
	found := 0
	for i, h := range hs {
		if h.typ != sockDiagByFamily {
			continue
		}
		p := ps[i]
		ino := binary.LittleEndian.Uint32(p[4:])
		var peer uint32
		attrs(p[sizeofUnixDiagMsg:], func(typ uint16, v []byte) {
			if typ == unixDiagPeer {
				peer = binary.LittleEndian.Uint32(v)
			}
		})
		if p[0] != socket.AF_UNIX || p[1] != socket.SOCK_STREAM || p[2] != unix.StateEstablished {
			t.Errorf("message %x", p[:4])
		}
		if ino == inos[0] && peer == inos[1] || ino == inos[1] && peer == inos[0] {
			found++
		}
	}
	if found != 2 || hs[len(hs)-1].typ != nlmsgDone {
		t.Errorf("dump found %d of the pair's ends: %+v", found, hs)
	}
	hs, ps = runDiag(t, nil, 0, unixDiagRequest(0, inos[1], 0))
	if len(hs) != 1 || hs[0].typ != sockDiagByFamily || binary.LittleEndian.Uint32(ps[0][4:]) != inos[1] {
		t.Errorf("lookup by inode: %+v", hs)
	}
	hs, ps = runDiag(t, nil, 0, unixDiagRequest(0, 0, 0))
	if len(hs) != 1 || hs[0].typ != nlmsgError || errnoOf(ps[0]) != linux.EINVAL {
		t.Errorf("lookup of inode 0: %+v", hs)
	}
}

// fakeHost answers every forwarded request with a canned dump whose
// port ID is the host socket's.
type fakeHost struct{ got []byte }

func (f *fakeHost) ForwardInetDiag(msg []byte) ([][]byte, error) {
	f.got = append([]byte(nil), msg...)
	seq := binary.LittleEndian.Uint32(msg[8:])
	one := newMessage(sockDiagByFamily, nlmFMulti, seq, 4242)
	one.put(make([]byte, sizeofInetDiagMsg))
	done := newMessage(nlmsgDone, nlmFMulti, seq, 4242)
	done.put(make([]byte, 4))
	return [][]byte{one.done(), done.done()}, nil
}

// TestDiagForwardedToHost: with a host forwarder, inet requests go to
// it whole (less NLM_F_ACK) and its answer comes back addressed to the
// sandbox's socket; AF_UNIX requests stay in the sandbox; SOCK_DESTROY
// is refused.
func TestDiagForwardedToHost(t *testing.T) {
	f := &fakeHost{}
	var r reply
	payload := diagRequest(socket.AF_INET, ipprotoTCP, ^uint32(0), nil)
	req := request{h: header{typ: sockDiagByFamily, flags: nlmFRequest | nlmFDump | nlmFAck, seq: 9}, payload: payload, portID: 33}
	handleDiag(diagSource{host: f}, req, false, &r)
	if len(f.got) != sizeofNlmsghdr+len(payload) || binary.LittleEndian.Uint16(f.got[6:])&nlmFAck != 0 {
		t.Fatalf("forwarded %x", f.got)
	}
	if len(r.dgrams) != 2 {
		t.Fatalf("answer: %d datagrams", len(r.dgrams))
	}
	for _, d := range r.dgrams {
		if h := parseHeader(d); h.pid != 33 || h.seq != 9 {
			t.Errorf("answer header %+v", h)
		}
	}
	f.got = nil
	r = reply{}
	req.payload = unixDiagRequest(^uint32(0), 0, 0)
	handleDiag(diagSource{host: f}, req, false, &r)
	if f.got != nil {
		t.Errorf("an AF_UNIX request went to the host")
	}
	for _, c := range []struct {
		family byte
		want   linux.Errno
	}{{socket.AF_INET, linux.EPERM}, {socket.AF_UNIX, linux.EOPNOTSUPP}} {
		r = reply{}
		p := diagRequest(c.family, ipprotoTCP, 0, nil)
		handleDiag(diagSource{host: f}, request{h: header{typ: sockDestroy, flags: nlmFRequest, seq: 9}, payload: p, portID: 33}, false, &r)
		if len(r.dgrams) != 1 || errnoOf(r.dgrams[0][sizeofNlmsghdr:]) != c.want {
			t.Errorf("SOCK_DESTROY family %d: %x, want %v", c.family, r.dgrams, c.want)
		}
	}
}
