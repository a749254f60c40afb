package unix

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// TestRegistry: the registry lists open sockets with their peers and
// queue lengths, forgets closed ones, and /proc/net/unix shows them in
// Linux's format.
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	a, b := pair(socket.SOCK_STREAM)
	if _, err := a.SendMsg(ctx, vfs.BytesIOSequence([]byte("hello")), nil, nil, nil, 0, true); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	a.addr = &address{abstract: true, name: "reg\x00x"}
	mu.Unlock()
	find := func(ino uint32) *SocketInfo {
		for _, in := range Sockets() {
			if in.Ino == ino {
				return &in
			}
		}
		return nil
	}
	ia, ib := find(a.ino), find(b.ino)
	if ia == nil || ib == nil {
		t.Fatal("pair not registered")
	}
	if ia.State != StateEstablished || ia.Peer != b.ino || ib.Peer != a.ino || ib.RecvQ != 5 || ia.SendQ != 5 {
		t.Errorf("pair: %+v %+v", ia, ib)
	}
	if string(ia.Name) != "\x00reg\x00x" {
		t.Errorf("name %q", ia.Name)
	}
	var buf bytes.Buffer
	WriteProcNet(&buf)
	want := fmt.Sprintf("0000000000000000: 00000003 00000000 00000000 0001 03 %5d @reg@x\n", a.ino)
	if !strings.Contains(buf.String(), want) {
		t.Errorf("/proc/net/unix lacks %q:\n%s", want, buf.String())
	}
	b.Release(ctx)
	if find(b.ino) != nil {
		t.Errorf("closed socket still listed")
	}
	if ia := find(a.ino); ia == nil || ia.Peer != 0 || !ia.HasPeer {
		t.Errorf("after the peer closed: %+v", ia)
	}
	a.Release(ctx)
}
