package unix

import (
	"context"
	"encoding/binary"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// A read with SO_PASSCRED stops where the sender changes.
func TestStreamQueueStopsAtOtherSender(t *testing.T) {
	ctx := context.Background()
	a, b := &cred{uid: 1}, &cred{uid: 2}
	q := msgQueue{limit: 100}
	q.push(message{data: []byte("ab"), sender: a})
	q.push(message{data: []byte("cd"), sender: &cred{uid: 1}})
	q.push(message{data: []byte("ef"), sender: b})
	q.push(message{data: []byte("gh")})
	buf := make([]byte, 8)
	for _, want := range []struct {
		data   string
		sender *cred
	}{{"abcd", a}, {"ef", b}, {"gh", nil}} {
		n, _, sender, err := q.readStream(ctx, vfs.BytesIOSequence(buf), false, true)
		if err != nil || string(buf[:n]) != want.data || !sameSender(sender, want.sender) {
			t.Fatalf("read = %q, %v, %v; want %q from %v", buf[:n], sender, err, want.data, want.sender)
		}
	}
	q.push(message{data: []byte("ij"), sender: a})
	q.push(message{data: []byte("kl"), sender: b})
	if n, _, _, _ := q.readStream(ctx, vfs.BytesIOSequence(buf), false, false); n != 4 {
		t.Fatalf("read without SO_PASSCRED = %d bytes, want 4 (senders do not matter)", n)
	}
}

func TestStreamQueueSpansMessages(t *testing.T) {
	ctx := context.Background()
	q := msgQueue{limit: 100}
	q.push(message{data: []byte("abc")})
	q.push(message{data: []byte("defg")})
	buf := make([]byte, 5)
	if n, _, _, err := q.readStream(ctx, vfs.BytesIOSequence(buf), true, false); n != 5 || err != nil || string(buf) != "abcde" {
		t.Fatalf("peek = %d, %v, %q", n, err, buf)
	}
	if q.bytes != 7 {
		t.Fatalf("peek consumed: bytes = %d", q.bytes)
	}
	if n, _, _, _ := q.readStream(ctx, vfs.BytesIOSequence(buf), false, false); n != 5 {
		t.Fatalf("read = %d", n)
	}
	if q.bytes != 2 || len(q.msgs) != 1 || string(q.msgs[0].data) != "fg" {
		t.Fatalf("after read: bytes=%d msgs=%d", q.bytes, len(q.msgs))
	}
	if n, _, _, _ := q.readStream(ctx, vfs.BytesIOSequence(buf), false, false); n != 2 || !q.empty() || q.bytes != 0 {
		t.Fatalf("drain = %d, empty=%v bytes=%d", n, q.empty(), q.bytes)
	}
}

func TestMessageQueueTruncates(t *testing.T) {
	ctx := context.Background()
	q := msgQueue{limit: 100}
	q.push(message{data: []byte("hello"), from: []byte("x")})
	q.push(message{})
	buf := make([]byte, 2)
	n, l, from, _, err := q.readMessage(ctx, vfs.BytesIOSequence(buf), false)
	if n != 2 || l != 5 || string(from) != "x" || err != nil || string(buf) != "he" {
		t.Fatalf("readMessage = %d, %d, %q, %v, %q", n, l, from, err, buf)
	}
	// The rest of a truncated message is gone; the empty one remains.
	n, l, _, _, _ = q.readMessage(ctx, vfs.BytesIOSequence(buf), false)
	if n != 0 || l != 0 || !q.empty() || q.bytes != 0 {
		t.Fatalf("empty message = %d, %d; empty=%v", n, l, q.empty())
	}
}

func pair(stype int) (*Endpoint, *Endpoint) {
	a, b := newEndpoint(nil, stype), newEndpoint(nil, stype)
	a.peer, b.peer = b, a
	a.state, b.state = connected, connected
	return a, b
}

func TestStreamFlowControl(t *testing.T) {
	ctx := context.Background()
	a, b := pair(socket.SOCK_STREAM)
	b.rq.limit = 10
	n, err := a.SendMsg(ctx, vfs.BytesIOSequence(make([]byte, 25)), nil, nil, nil, 0, true)
	if n != 10 || err != nil {
		t.Fatalf("send into 10-byte queue = %d, %v", n, err)
	}
	if _, err := a.SendMsg(ctx, vfs.BytesIOSequence(make([]byte, 1)), nil, nil, nil, 0, true); err != linux.EAGAIN {
		t.Fatalf("send into full queue: %v, want EAGAIN", err)
	}
	if a.Readiness(waiter.WritableEvents) != 0 {
		t.Fatal("writable with a full peer queue")
	}
	res, err := b.RecvMsg(ctx, vfs.BytesIOSequence(make([]byte, 8)), 0, true)
	if res.N != 8 || err != nil {
		t.Fatalf("recv = %+v, %v", res, err)
	}
	if a.Readiness(waiter.WritableEvents) == 0 {
		t.Fatal("not writable after the peer drained")
	}
}

func TestCloseResetsAndShutsPeer(t *testing.T) {
	ctx := context.Background()
	a, b := pair(socket.SOCK_STREAM)
	if _, err := b.SendMsg(ctx, vfs.BytesIOSequence([]byte("unread")), nil, nil, nil, 0, true); err != nil {
		t.Fatal(err)
	}
	a.Release(ctx)
	if _, err := b.SendMsg(ctx, vfs.BytesIOSequence([]byte("x")), nil, nil, nil, 0, true); err != linux.EPIPE {
		t.Fatalf("send to closed peer: %v, want EPIPE", err)
	}
	if _, err := b.RecvMsg(ctx, vfs.BytesIOSequence(make([]byte, 1)), 0, true); err != linux.ECONNRESET {
		t.Fatalf("first recv: %v, want ECONNRESET", err)
	}
	if res, err := b.RecvMsg(ctx, vfs.BytesIOSequence(make([]byte, 1)), 0, true); res.N != 0 || err != nil {
		t.Fatalf("second recv: %+v, %v, want EOF", res, err)
	}
	if r := b.Readiness(waiter.AllEvents); r&(waiter.EventHUp|waiter.EventRdHUp) != waiter.EventHUp|waiter.EventRdHUp {
		t.Fatalf("readiness %#x lacks HUP|RDHUP", r)
	}
}

func sockaddrUn(name string, abstract bool) []byte {
	b := make([]byte, 2, 3+len(name))
	binary.LittleEndian.PutUint16(b, socket.AF_UNIX)
	if abstract {
		b = append(b, 0)
	}
	return append(b, name...)
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want address
		err  error
	}{
		{sockaddrUn("", false), address{empty: true}, nil},
		{sockaddrUn("sock", true), address{abstract: true, name: "sock"}, nil},
		{append(sockaddrUn("a", true), 0, 0), address{abstract: true, name: "a\x00\x00"}, nil},
		{append(sockaddrUn("/p", false), 0, 'x'), address{name: "/p"}, nil},
		{[]byte{1}, address{}, linux.EINVAL},
		{[]byte{2, 0, 'a'}, address{}, linux.EINVAL},
		{make([]byte, 111), address{}, linux.EINVAL},
	} {
		got, err := parseAddr(tc.in)
		if got != tc.want || err != tc.err {
			t.Errorf("parseAddr(%q) = %+v, %v; want %+v, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if got := (address{name: "/p"}).sockaddr(); string(got[2:]) != "/p\x00" {
		t.Errorf("pathname sockaddr = %q", got)
	}
	if got := (address{abstract: true, name: "ab"}).sockaddr(); len(got) != 5 {
		t.Errorf("abstract sockaddr = %q", got)
	}
}

func TestBacklogAndAbstractNamespace(t *testing.T) {
	ctx := context.Background()
	l := newEndpoint(nil, socket.SOCK_STREAM)
	addr := sockaddrUn("unit-backlog", true)
	if err := l.Bind(ctx, addr, nil); err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	// Another type may use the same abstract name.
	d := newEndpoint(nil, socket.SOCK_DGRAM)
	if err := d.Bind(ctx, addr, nil); err != nil {
		t.Fatalf("dgram bind of a stream's name: %v", err)
	}
	d.Release(ctx)
	if err := l.Listen(ctx, 0); err != nil {
		t.Fatal(err)
	}
	c1, c2 := newEndpoint(nil, socket.SOCK_STREAM), newEndpoint(nil, socket.SOCK_STREAM)
	if err := c1.Connect(ctx, addr, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := c2.Connect(ctx, addr, nil, true); err != linux.EAGAIN {
		t.Fatalf("connect to a full backlog: %v, want EAGAIN", err)
	}
	if l.Readiness(waiter.ReadableEvents) == 0 {
		t.Fatal("listener with a pending connection is not readable")
	}
}
