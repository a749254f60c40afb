package lisafs

import (
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// stubSession answers every request without touching files, so the
// transport and dispatch can be tested on their own. Open donates a new
// pipe's read end.
type stubSession struct {
	mu       sync.Mutex
	released bool
}

func (*stubSession) Mount(r *MountReq) (*MountResp, error) {
	if r.Export != "/" {
		return nil, linux.ENOENT
	}
	return &MountResp{Root: Inode{FD: 1, Stat: sampleStat(1)}}, nil
}
func (*stubSession) Walk(r *WalkReq) (*WalkResp, error) {
	resp := &WalkResp{}
	for i := range r.Names {
		resp.Inodes = append(resp.Inodes, Inode{FD: FDID(i + 2), Stat: sampleStat(uint64(i))})
	}
	return resp, nil
}
func (*stubSession) WalkStat(r *WalkStatReq) (*WalkStatResp, error) {
	return &WalkStatResp{Stats: make([]Stat, len(r.Names))}, nil
}
func (*stubSession) Stat(r *FDReq) (*StatResp, error) {
	if r.FD == 0 {
		return nil, linux.EBADF
	}
	return &StatResp{Stat: sampleStat(uint64(r.FD))}, nil
}
func (*stubSession) Open(*OpenReq) (*OpenResp, int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, -1, err
	}
	unix.Close(p[1])
	return &OpenResp{FD: 9}, p[0], nil
}
func (*stubSession) OpenCreate(*OpenCreateReq) (*OpenCreateResp, int, error) {
	return nil, -1, linux.EROFS
}
func (*stubSession) Mkdir(*MkdirReq) (*InodeResp, error)     { return &InodeResp{}, nil }
func (*stubSession) Mknod(*MknodReq) (*InodeResp, error)     { return &InodeResp{}, nil }
func (*stubSession) Symlink(*SymlinkReq) (*InodeResp, error) { return &InodeResp{}, nil }
func (*stubSession) Link(*LinkReq) (*InodeResp, error)       { return &InodeResp{}, nil }
func (*stubSession) Unlink(*UnlinkReq) error                 { return nil }
func (*stubSession) Rename(*RenameReq) error                 { return errors.New("not an errno") }
func (*stubSession) Readlink(*FDReq) (*ReadlinkResp, error)  { return &ReadlinkResp{Target: "t"}, nil }
func (*stubSession) Getdents64(*Getdents64Req) (*Getdents64Resp, error) {
	return &Getdents64Resp{}, nil
}
func (*stubSession) SetStat(*SetStatReq) error          { return nil }
func (*stubSession) StatFS(*FDReq) (*StatFSResp, error) { return &StatFSResp{}, nil }
func (*stubSession) Fsync(*FDsReq) error                { return nil }
func (*stubSession) Flush(*FDReq) error                 { return nil }
func (*stubSession) Close(*FDsReq) error                { return nil }
func (s *stubSession) Release()                         { s.mu.Lock(); s.released = true; s.mu.Unlock() }
func (s *stubSession) wasReleased() bool                { s.mu.Lock(); defer s.mu.Unlock(); return s.released }
func (b *stubBackend) NewSession() Session              { b.s = &stubSession{}; return b.s }
func (b *stubBackend) session() *stubSession            { return b.s }
func newStubServer() (*Server, *stubBackend)            { b := &stubBackend{}; return NewServer(b, 2), b }
func sendRaw(t testing.TB, fd int, msg []byte, fds ...int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(fd, msg, oob, nil, 0)
}

type stubBackend struct{ s *stubSession }

// startRaw serves one connection and returns the client end as a raw
// descriptor plus a channel with Serve's result.
func startRaw(t testing.TB) (int, chan error, *stubBackend) {
	t.Helper()
	cf, sf, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	srv, b := newStubServer()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sf) }()
	fd, err := unix.Dup(int(cf.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	cf.Close()
	return fd, done, b
}

// readRaw reads one reply, or reports that the server closed the socket.
func readRaw(t testing.TB, fd int) (Header, []byte, bool) {
	t.Helper()
	buf := make([]byte, MaxMessageSize+1)
	oob := make([]byte, oobSize)
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
	if err != nil {
		t.Fatalf("recvmsg: %v", err)
	}
	if fds, _ := parseRights(oob[:oobn]); len(fds) > 0 {
		closeAll(fds)
	}
	if n == 0 {
		return Header{}, nil, false
	}
	var h Header
	h.get(buf)
	return h, buf[HeaderSize:n], true
}

func request(t MsgType, tag uint64, m message) []byte {
	e := newEncoder(nil)
	m.encode(&e)
	return e.finish(t, 0, tag)
}

func TestServerRepliesToBadRequests(t *testing.T) {
	fd, done, _ := startRaw(t)
	defer unix.Close(fd)

	// Unknown type: ENOSYS, same tag.
	msg := request(MsgType(999), 11, &Empty{})
	sendRaw(t, fd, msg)
	if h, _, ok := readRaw(t, fd); !ok || h.Tag != 11 || h.Errno != uint16(linux.ENOSYS) {
		t.Fatalf("unknown type: %+v ok=%v", h, ok)
	}
	// Malformed body: a Walk whose name runs past the end.
	msg = request(MsgWalk, 12, &WalkReq{Dir: 1, Names: []string{"abc"}})
	msg = msg[:len(msg)-1]
	le.PutUint32(msg, uint32(len(msg)))
	sendRaw(t, fd, msg)
	if h, _, ok := readRaw(t, fd); !ok || h.Tag != 12 || h.Errno != uint16(linux.EINVAL) {
		t.Fatalf("truncated body: %+v ok=%v", h, ok)
	}
	// A request claiming an errno.
	msg = request(MsgStat, 13, &FDReq{FD: 1})
	le.PutUint16(msg[6:], 5)
	sendRaw(t, fd, msg)
	if h, _, ok := readRaw(t, fd); !ok || h.Tag != 13 || h.Errno != uint16(linux.EINVAL) {
		t.Fatalf("errno in request: %+v ok=%v", h, ok)
	}
	// A session error that is not an errno travels as EIO.
	sendRaw(t, fd, request(MsgRename, 14, &RenameReq{}))
	if h, _, ok := readRaw(t, fd); !ok || h.Tag != 14 || h.Errno != uint16(linux.EIO) {
		t.Fatalf("non-errno error: %+v ok=%v", h, ok)
	}
	// And the connection still works.
	sendRaw(t, fd, request(MsgStat, 15, &FDReq{FD: 3}))
	h, body, ok := readRaw(t, fd)
	if !ok || h.Tag != 15 || h.Errno != 0 {
		t.Fatalf("good request after bad ones: %+v ok=%v", h, ok)
	}
	var st StatResp
	if d := (decoder{buf: body}); decodeReq(&d, &st) != nil || st.Stat.Ino != 3 {
		t.Fatalf("stat reply %+v", st)
	}
	unix.Shutdown(fd, unix.SHUT_WR)
	if err := <-done; err != nil {
		t.Fatalf("Serve after clean close: %v", err)
	}
}

func TestServerDropsBrokenConnections(t *testing.T) {
	huge := make([]byte, MaxMessageSize+100)
	(&Header{Size: uint32(len(huge)), Type: MsgStat, Tag: 1}).put(huge)
	lying := request(MsgStat, 1, &FDReq{FD: 1})
	le.PutUint32(lying, 1<<31)
	short := request(MsgStat, 1, &FDReq{FD: 1})[:HeaderSize-1]

	for name, c := range map[string]struct {
		msg     []byte
		withFDs bool
	}{
		"truncated header": {msg: short},
		"size field lies":  {msg: lying},
		"oversized":        {msg: huge},
		"empty":            {msg: []byte{}},
		"carries an fd":    {msg: request(MsgStat, 1, &FDReq{FD: 1}), withFDs: true},
	} {
		t.Run(name, func(t *testing.T) {
			fd, done, b := startRaw(t)
			defer unix.Close(fd)
			var fds []int
			if c.withFDs {
				fds = []int{fd}
			}
			if err := sendRaw(t, fd, c.msg, fds...); err != nil {
				t.Fatalf("send: %v", err)
			}
			if _, _, ok := readRaw(t, fd); ok {
				t.Fatalf("server replied instead of closing")
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return")
			}
			if !b.session().wasReleased() {
				t.Fatal("session not released")
			}
		})
	}
}

func TestClientAgainstStub(t *testing.T) {
	cf, sf, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := newStubServer()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sf) }()
	c, err := NewClient(cf)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Mount("/nope"); err != linux.ENOENT {
		t.Fatalf("Mount of unknown export: %v", err)
	}
	root, _, err := c.Mount("/")
	if err != nil || root.FD != 1 {
		t.Fatalf("Mount: %+v %v", root, err)
	}
	w, err := c.Walk(root.FD, []string{"a", "b"})
	if err != nil || len(w.Inodes) != 2 || w.Inodes[1].FD != 3 {
		t.Fatalf("Walk: %+v %v", w, err)
	}
	id, hostFD, err := c.Open(3, 0)
	if err != nil || id != 9 || hostFD < 0 {
		t.Fatalf("Open: %v %d %v", id, hostFD, err)
	}
	// The donated descriptor is a pipe whose writer is gone: EOF.
	var b [1]byte
	if n, err := unix.Read(hostFD, b[:]); n != 0 || err != nil {
		t.Fatalf("read donated fd: %d %v", n, err)
	}
	unix.Close(hostFD)
	if _, _, _, err := c.OpenCreate(1, "x", 0, 0, 0, 0); err != linux.EROFS {
		t.Fatalf("OpenCreate: %v", err)
	}
	// Many goroutines share the connection.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i < 200; i++ {
				st, err := c.Stat(FDID(i))
				if err != nil || st.Ino != uint64(i) {
					t.Errorf("Stat(%d): %+v %v", i, st, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := c.Stat(1); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("call after Close: %v", err)
	}
}

func TestClientSeesServerExit(t *testing.T) {
	cf, sf, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(cf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		// Read one request and hang up without replying.
		buf := make([]byte, MaxMessageSize+1)
		unix.Read(int(sf.Fd()), buf)
		sf.Close()
	}()
	if _, err := c.Stat(1); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Stat with the server gone: %v", err)
	}
}

func TestNewClientRejectsStreamSocket(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	if _, err := NewClient(os.NewFile(uintptr(fds[0]), "s")); err == nil {
		t.Fatal("NewClient accepted a SOCK_STREAM socket")
	}
}

// FuzzServer throws arbitrary datagrams at a server: it must answer or
// hang up, never panic or hang.
func FuzzServer(f *testing.F) {
	for _, m := range allMessages() {
		for ty := MsgMount; ty <= msgEnd; ty++ {
			f.Add(request(ty, 1, m))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	lying := request(MsgWalk, 1, &WalkReq{Names: []string{"x"}})
	le.PutUint32(lying, 0xffffffff)
	f.Add(lying)
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > MaxMessageSize+1 {
			msg = msg[:MaxMessageSize+1]
		}
		fd, done, _ := startRaw(t)
		defer unix.Close(fd)
		if err := sendRaw(t, fd, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		h, _, ok := readRaw(t, fd)
		if ok && len(msg) >= HeaderSize && h.Tag != le.Uint64(msg[8:]) {
			t.Fatalf("reply tag %d for request tag %d", h.Tag, le.Uint64(msg[8:]))
		}
		unix.Shutdown(fd, unix.SHUT_WR)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return")
		}
	})
}
