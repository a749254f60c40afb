package lisafs

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// ErrDisconnected wraps every error a Client returns once its connection
// has failed; the Sentry maps it to EIO for the application.
var ErrDisconnected = errors.New("lisafs: disconnected from server")

// Client is the Sentry's end of one connection. Its methods may be called
// from many goroutines at once: each call gets a fresh tag, one reader
// goroutine hands every reply to the call waiting for that tag, and
// calls do not wait for each other.
//
// Methods return a linux.Errno when the server refused the operation, and
// an error wrapping ErrDisconnected when the connection failed.
type Client struct {
	c *conn

	// mu guards pending, nextTag and err.
	mu      sync.Mutex
	pending map[uint64]chan reply
	nextTag uint64
	// err is set once the reader stops; later calls fail with it.
	err error

	readerDone chan struct{}
}

// reply is one received reply; body is the caller's own copy.
type reply struct {
	h    Header
	body []byte
	fds  []int
}

// NewClient starts a client on sock, an AF_UNIX SOCK_SEQPACKET socket
// connected to a server. The Client owns sock from now on, even on error.
func NewClient(sock *os.File) (*Client, error) {
	cn, err := newConn(sock)
	if err != nil {
		return nil, err
	}
	c := &Client{
		c:          cn,
		pending:    make(map[uint64]chan reply),
		readerDone: make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// Disconnected returns a channel closed once the connection is gone:
// after Close, or when the server went away (or broke the protocol).
func (c *Client) Disconnected() <-chan struct{} { return c.readerDone }

// Close ends the connection; the server releases every handle. Calls in
// flight fail with ErrDisconnected.
func (c *Client) Close() error {
	err := c.c.close()
	<-c.readerDone
	return err
}

func (c *Client) readLoop() {
	defer close(c.readerDone)
	buf := make([]byte, MaxMessageSize+1)
	oob := make([]byte, oobSize)
	var err error
	for {
		var h Header
		var body []byte
		var fds []int
		h, body, fds, err = c.c.recv(buf, oob)
		if err != nil {
			break
		}
		c.mu.Lock()
		ch, ok := c.pending[h.Tag]
		delete(c.pending, h.Tag)
		c.mu.Unlock()
		if !ok {
			// A server that invents tags is broken; do not trust the rest.
			closeAll(fds)
			err = fmt.Errorf("reply with unknown tag %d", h.Tag)
			break
		}
		ch <- reply{h: h, body: append([]byte(nil), body...), fds: fds}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrDisconnected, err)
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, ch := range pending {
		close(ch)
	}
	c.c.close()
}

var encPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

var chanPool = sync.Pool{New: func() any { return make(chan reply, 1) }}

// call sends req and decodes the reply into resp, returning the
// descriptors that came with a successful reply.
func (c *Client) call(t MsgType, req, resp message) ([]int, error) {
	bp := encPool.Get().(*[]byte)
	e := newEncoder(*bp)
	req.encode(&e)
	if len(e.buf) > MaxMessageSize {
		*bp = e.buf[:0]
		encPool.Put(bp)
		return nil, linux.ENAMETOOLONG
	}

	ch := chanPool.Get().(chan reply)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		chanPool.Put(ch)
		encPool.Put(bp)
		return nil, err
	}
	c.nextTag++
	tag := c.nextTag
	c.pending[tag] = ch
	c.mu.Unlock()

	sendErr := c.c.send(e.finish(t, 0, tag), nil)
	*bp = e.buf[:0]
	encPool.Put(bp)
	if sendErr != nil {
		c.mu.Lock()
		_, stillPending := c.pending[tag]
		delete(c.pending, tag)
		c.mu.Unlock()
		if stillPending {
			chanPool.Put(ch)
		}
		// The reader notices the broken connection and fails the rest.
		return nil, fmt.Errorf("%w: %v", ErrDisconnected, sendErr)
	}

	r, ok := <-ch
	if !ok {
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	chanPool.Put(ch)
	if r.h.Type != t {
		closeAll(r.fds)
		return nil, fmt.Errorf("%w: %v reply to a %v request", ErrDisconnected, r.h.Type, t)
	}
	if r.h.Errno != 0 {
		closeAll(r.fds)
		return nil, linux.Errno(r.h.Errno)
	}
	d := decoder{buf: r.body}
	resp.decode(&d)
	if err := d.done(); err != nil {
		closeAll(r.fds)
		return nil, fmt.Errorf("%w: malformed %v reply", ErrDisconnected, t)
	}
	return r.fds, nil
}

// callNoFDs is call for replies that never carry descriptors.
func (c *Client) callNoFDs(t MsgType, req, resp message) error {
	fds, err := c.call(t, req, resp)
	if len(fds) != 0 {
		closeAll(fds)
		return fmt.Errorf("%w: %v reply carried descriptors", ErrDisconnected, t)
	}
	return err
}

// callOneFD is call for replies that donate exactly one descriptor.
func (c *Client) callOneFD(t MsgType, req, resp message) (int, error) {
	fds, err := c.call(t, req, resp)
	if err != nil {
		return -1, err
	}
	if len(fds) != 1 {
		closeAll(fds)
		return -1, fmt.Errorf("%w: %v reply carried %d descriptors, want 1", ErrDisconnected, t, len(fds))
	}
	return fds[0], nil
}

// Mount attaches to the export named export ("/" for the root
// filesystem) and returns its root directory and whether it is read-only.
func (c *Client) Mount(export string) (Inode, bool, error) {
	var resp MountResp
	err := c.callNoFDs(MsgMount, &MountReq{Export: export}, &resp)
	return resp.Root, resp.ReadOnly, err
}

// Walk walks names from dir, making a node handle for each component it
// reaches; resp.Status says where and why it stopped.
func (c *Client) Walk(dir FDID, names []string) (*WalkResp, error) {
	var resp WalkResp
	if err := c.callNoFDs(MsgWalk, &WalkReq{Dir: dir, Names: names}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// WalkStat is Walk without handles: it returns each component's stat.
// With no names it returns dir's own stat.
func (c *Client) WalkStat(dir FDID, names []string) (*WalkStatResp, error) {
	var resp WalkStatResp
	if err := c.callNoFDs(MsgWalkStat, &WalkStatReq{Dir: dir, Names: names}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Stat returns the attributes of the file fd names.
func (c *Client) Stat(fd FDID) (Stat, error) {
	var resp StatResp
	err := c.callNoFDs(MsgStat, &FDReq{FD: fd}, &resp)
	return resp.Stat, err
}

// Open opens the file node names with open(2) flags. It returns the open
// handle and the donated host descriptor, which the caller owns.
func (c *Client) Open(node FDID, flags uint32) (FDID, int, error) {
	var resp OpenResp
	hostFD, err := c.callOneFD(MsgOpen, &OpenReq{FD: node, Flags: flags}, &resp)
	return resp.FD, hostFD, err
}

// OpenCreate creates the regular file name in dir and opens it: it
// returns the new node, its open handle and the donated host descriptor.
func (c *Client) OpenCreate(dir FDID, name string, flags, mode, uid, gid uint32) (Inode, FDID, int, error) {
	var resp OpenCreateResp
	req := OpenCreateReq{Dir: dir, Name: name, Flags: flags, Mode: mode, UID: uid, GID: gid}
	hostFD, err := c.callOneFD(MsgOpenCreate, &req, &resp)
	return resp.Node, resp.FD, hostFD, err
}

// Mkdir creates the directory name in dir.
func (c *Client) Mkdir(dir FDID, name string, mode, uid, gid uint32) (Inode, error) {
	var resp InodeResp
	err := c.callNoFDs(MsgMkdir, &MkdirReq{Dir: dir, Name: name, Mode: mode, UID: uid, GID: gid}, &resp)
	return resp.Inode, err
}

// Mknod creates a regular file, FIFO or socket; mode holds the type.
func (c *Client) Mknod(dir FDID, name string, mode, uid, gid uint32) (Inode, error) {
	var resp InodeResp
	err := c.callNoFDs(MsgMknod, &MknodReq{Dir: dir, Name: name, Mode: mode, UID: uid, GID: gid}, &resp)
	return resp.Inode, err
}

// Symlink creates the symlink name in dir pointing at target.
func (c *Client) Symlink(dir FDID, name, target string, uid, gid uint32) (Inode, error) {
	var resp InodeResp
	err := c.callNoFDs(MsgSymlink, &SymlinkReq{Dir: dir, Name: name, Target: target, UID: uid, GID: gid}, &resp)
	return resp.Inode, err
}

// Link makes name in dir a hard link to the file target names.
func (c *Client) Link(dir FDID, name string, target FDID) (Inode, error) {
	var resp InodeResp
	err := c.callNoFDs(MsgLink, &LinkReq{Dir: dir, Name: name, Target: target}, &resp)
	return resp.Inode, err
}

// Unlink removes name from dir; flags may be linux.AT_REMOVEDIR.
func (c *Client) Unlink(dir FDID, name string, flags uint32) error {
	return c.callNoFDs(MsgUnlink, &UnlinkReq{Dir: dir, Name: name, Flags: flags}, &Empty{})
}

// Rename is renameat2(2) between two directory handles of one export.
func (c *Client) Rename(oldDir FDID, oldName string, newDir FDID, newName string, flags uint32) error {
	req := RenameReq{OldDir: oldDir, OldName: oldName, NewDir: newDir, NewName: newName, Flags: flags}
	return c.callNoFDs(MsgRename, &req, &Empty{})
}

// Readlink returns the target of the symlink fd names.
func (c *Client) Readlink(fd FDID) (string, error) {
	var resp ReadlinkResp
	err := c.callNoFDs(MsgReadlink, &FDReq{FD: fd}, &resp)
	return resp.Target, err
}

// Getdents64 returns the directory's entries after cookie (0: from the
// start), about count bytes' worth; an empty result is the end.
func (c *Client) Getdents64(dir FDID, cookie uint64, count uint32) ([]Dirent, error) {
	var resp Getdents64Resp
	err := c.callNoFDs(MsgGetdents64, &Getdents64Req{FD: dir, Cookie: cookie, Count: count}, &resp)
	return resp.Dirents, err
}

// SetStat changes the attributes req.Mask selects.
func (c *Client) SetStat(req *SetStatReq) error {
	return c.callNoFDs(MsgSetStat, req, &Empty{})
}

// StatFS describes the filesystem holding the file fd names.
func (c *Client) StatFS(fd FDID) (StatFS, error) {
	var resp StatFSResp
	err := c.callNoFDs(MsgStatFS, &FDReq{FD: fd}, &resp)
	return resp.StatFS, err
}

// Fsync flushes the named handles' files to stable storage.
func (c *Client) Fsync(fds ...FDID) error {
	return c.batch(MsgFsync, fds)
}

// Flush tells the server a descriptor on the open handle fd was closed,
// as close(2) does for a host file.
func (c *Client) Flush(fd FDID) error {
	return c.callNoFDs(MsgFlush, &FDReq{FD: fd}, &Empty{})
}

// CloseFDs releases handles. Every named handle is released even when the
// reply is an error (EBADF for one the server did not know).
func (c *Client) CloseFDs(fds ...FDID) error {
	return c.batch(MsgClose, fds)
}

func (c *Client) batch(t MsgType, fds []FDID) error {
	var first error
	for len(fds) > 0 {
		n := min(len(fds), MaxCloseBatch)
		if err := c.callNoFDs(t, &FDsReq{FDs: fds[:n]}, &Empty{}); err != nil && first == nil {
			first = err
		}
		fds = fds[n:]
	}
	return first
}
