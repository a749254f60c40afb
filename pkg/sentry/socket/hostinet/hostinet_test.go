package hostinet

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func nlmsg(typ, flags uint16, payload int) []byte {
	b := make([]byte, sizeNlmsghdr+payload)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	binary.LittleEndian.PutUint16(b[4:], typ)
	binary.LittleEndian.PutUint16(b[6:], flags)
	return b
}

func TestCheckNetlinkRequests(t *testing.T) {
	const (
		rtmNewLink, rtmGetLink, rtmDelAddr, rtmGetRoute, rtmSetLink = 16, 18, 21, 26, 19
		dump                                                        = 0x300
	)
	cat := func(ms ...[]byte) []byte {
		var b []byte
		for _, m := range ms {
			b = append(b, m...)
		}
		return b
	}
	for _, c := range []struct {
		name string
		buf  []byte
		want error
	}{
		{"getlink dump", nlmsg(rtmGetLink, nlmFRequest|dump, 16), nil},
		{"getroute", nlmsg(rtmGetRoute, nlmFRequest, 12), nil},
		{"newlink", nlmsg(rtmNewLink, nlmFRequest, 16), linux.EPERM},
		{"setlink", nlmsg(rtmSetLink, nlmFRequest, 16), linux.EPERM},
		{"deladdr after a get", cat(nlmsg(rtmGetLink, nlmFRequest, 16), nlmsg(rtmDelAddr, nlmFRequest, 8)), linux.EPERM},
		// The kernel skips messages that are not requests and control
		// types, and stops at a malformed header: so does the check.
		{"newlink without NLM_F_REQUEST", nlmsg(rtmNewLink, 0, 16), nil},
		{"noop", nlmsg(1, nlmFRequest, 0), nil},
		{"after a malformed length", cat(func() []byte { m := nlmsg(rtmGetLink, nlmFRequest, 0); m[0] = 4; return m }(), nlmsg(rtmNewLink, nlmFRequest, 0)), nil},
		{"truncated header", nlmsg(rtmNewLink, nlmFRequest, 0)[:12], nil},
		// An unaligned length still advances by the aligned size.
		{"unaligned then newlink", cat(func() []byte { m := nlmsg(rtmGetLink, nlmFRequest, 4); binary.LittleEndian.PutUint32(m, 17); return m }(), nlmsg(rtmNewLink, nlmFRequest, 0)), linux.EPERM},
	} {
		if got := checkNetlinkRequests(c.buf); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCheckNetlinkDest(t *testing.T) {
	nl := func(pid, groups uint32) []byte {
		b := make([]byte, sizeSockaddrN)
		binary.LittleEndian.PutUint16(b, unix.AF_NETLINK)
		binary.LittleEndian.PutUint32(b[4:], pid)
		binary.LittleEndian.PutUint32(b[8:], groups)
		return b
	}
	for _, c := range []struct {
		name string
		addr []byte
		want error
	}{
		{"kernel", nl(0, 0), nil},
		{"another process", nl(1234, 0), linux.EPERM},
		{"a multicast group", nl(0, 1), linux.EPERM},
		{"short", nl(0, 0)[:6], linux.EINVAL},
		{"AF_UNSPEC disconnect", []byte{0, 0}, nil},
	} {
		if got := checkNetlinkDest(c.addr); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestInetProtocol(t *testing.T) {
	for _, c := range []struct {
		stype, protocol int
		want            error
	}{
		{unix.SOCK_STREAM, 0, nil},
		{unix.SOCK_STREAM, unix.IPPROTO_TCP, nil},
		{unix.SOCK_DGRAM, unix.IPPROTO_UDP, nil},
		{unix.SOCK_STREAM, unix.IPPROTO_UDP, linux.EPROTONOSUPPORT},
		{unix.SOCK_DGRAM, unix.IPPROTO_ICMP, linux.EPROTONOSUPPORT},
		{unix.SOCK_RAW, unix.IPPROTO_ICMP, linux.EPERM},
		{unix.SOCK_SEQPACKET, 0, linux.ESOCKTNOSUPPORT},
		{unix.SOCK_STREAM, 263, linux.EINVAL},
		{unix.SOCK_RAW, -1, linux.EINVAL},
	} {
		if _, err := inetProtocol(c.stype, c.protocol); err != c.want {
			t.Errorf("inetProtocol(%d, %d) = %v, want %v", c.stype, c.protocol, err, c.want)
		}
	}
}

func TestOptionTable(t *testing.T) {
	seen := map[optKey]bool{}
	for _, o := range AllowedOptions {
		k := optKey{o.Level, o.Name}
		if seen[k] {
			t.Errorf("option (%d, %d) listed twice", o.Level, o.Name)
		}
		seen[k] = true
		if o.Size <= 0 || (!o.Get && !o.Set) {
			t.Errorf("option (%d, %d): size %d, get %v, set %v", o.Level, o.Name, o.Size, o.Get, o.Set)
		}
		// The Sentry keeps these; they must never reach the host.
		if o.Level == unix.SOL_SOCKET && (o.Name == unix.SO_RCVTIMEO || o.Name == unix.SO_SNDTIMEO) {
			t.Errorf("SO_RCVTIMEO/SO_SNDTIMEO in the host allow-list")
		}
	}
	inet := &Socket{family: unix.AF_INET}
	nl := &Socket{family: unix.AF_NETLINK}
	if _, ok := inet.lookupOption(solNetlink, unix.NETLINK_EXT_ACK); ok {
		t.Error("netlink option allowed on an inet socket")
	}
	if _, ok := nl.lookupOption(unix.IPPROTO_TCP, unix.TCP_NODELAY); ok {
		t.Error("TCP option allowed on a netlink socket")
	}
	if _, ok := nl.lookupOption(unix.SOL_SOCKET, unix.SO_RCVBUF); !ok {
		t.Error("SO_RCVBUF refused on a netlink socket")
	}
	if _, ok := inet.lookupOption(unix.SOL_SOCKET, unix.SO_BINDTODEVICE); ok {
		t.Error("SO_BINDTODEVICE allowed")
	}
}

// TestLoopback drives real host sockets through the socket.Socket
// interface: a blocking accept and recv woken by fdnotifier, a timeout,
// a wait cut short by cancelling the context (the interrupt of tests).
func TestLoopback(t *testing.T) {
	vfsObj := vfs.New()
	ctx := context.Background()
	p := InetProvider{Family: unix.AF_INET}
	lf, err := p.Socket(ctx, vfsObj, unix.SOCK_STREAM, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.DecRef(ctx)
	ls := lf.Impl().(socket.Socket)
	addr := []byte{unix.AF_INET, 0, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := ls.Bind(ctx, addr, nil); err != nil {
		t.Fatal(err)
	}
	if err := ls.Listen(ctx, 4); err != nil {
		t.Fatal(err)
	}
	name := ls.SockName()
	if len(name) != 16 || binary.BigEndian.Uint16(name[2:]) == 0 {
		t.Fatalf("sockname %x", name)
	}
	type accepted struct {
		f   *vfs.FileDescription
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		f, err := ls.Accept(ctx, false, false)
		ch <- accepted{f, err}
	}()
	time.Sleep(20 * time.Millisecond) // let Accept block first
	cf, err := p.Socket(ctx, vfsObj, unix.SOCK_STREAM, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cf.DecRef(ctx)
	cs := cf.Impl().(socket.Socket)
	if err := cs.Connect(ctx, name, nil, false); err != nil {
		t.Fatalf("connect: %v", err)
	}
	a := <-ch
	if a.err != nil {
		t.Fatalf("accept: %v", a.err)
	}
	defer a.f.DecRef(ctx)
	ss := a.f.Impl().(socket.Socket)

	// A blocking receive woken by the data.
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 8)
		res, err := ss.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, false)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf[:res.N])
	}()
	time.Sleep(20 * time.Millisecond)
	if n, err := cs.SendMsg(ctx, vfs.BytesIOSequence([]byte("ping")), nil, nil, nil, 0, false); n != 4 || err != nil {
		t.Fatalf("send = %d, %v", n, err)
	}
	if s := <-got; s != "ping" {
		t.Fatalf("recv got %q", s)
	}

	// SO_RCVTIMEO: EAGAIN after the timeout.
	tv := make([]byte, 16)
	binary.LittleEndian.PutUint64(tv[8:], 30000)
	if err := ss.SetSockOpt(unix.SOL_SOCKET, unix.SO_RCVTIMEO, tv); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := ss.RecvMsg(ctx, vfs.BytesIOSequence(make([]byte, 4)), 0, false); err != linux.EAGAIN {
		t.Fatalf("timed recv: %v, want EAGAIN", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("timed recv returned after %v", d)
	}

	// An interrupted untimed wait is vfs.ErrInterrupted (ERESTARTSYS).
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := cs.RecvMsg(cctx, vfs.BytesIOSequence(make([]byte, 4)), 0, false); err != vfs.ErrInterrupted {
		t.Fatalf("interrupted recv: %v", err)
	}

	// Options outside the allow-list never reach the host.
	if err := cs.SetSockOpt(unix.SOL_SOCKET, unix.SO_BINDTODEVICE, []byte("lo\x00")); err != linux.ENOPROTOOPT {
		t.Errorf("SO_BINDTODEVICE: %v", err)
	}
	// Privileged ports need the application's capability.
	uf, err := p.Socket(ctx, vfsObj, unix.SOCK_DGRAM, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer uf.DecRef(ctx)
	low := []byte{unix.AF_INET, 0, 0, 80, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := uf.Impl().(socket.Socket).Bind(ctx, low, nil); err != linux.EACCES {
		t.Errorf("bind to port 80 without CAP_NET_BIND_SERVICE: %v", err)
	}
}
