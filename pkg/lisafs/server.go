package lisafs

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
)

// Session answers the requests of one connection. Its methods are called
// concurrently, each with a decoded request; an error is sent as its
// errno (a linux.Errno or unix.Errno keeps its number, anything else
// becomes EIO). A returned host descriptor >= 0 is donated with the reply
// and then closed by the server, whether or not the send succeeded.
type Session interface {
	Mount(*MountReq) (*MountResp, error)
	Walk(*WalkReq) (*WalkResp, error)
	WalkStat(*WalkStatReq) (*WalkStatResp, error)
	Stat(*FDReq) (*StatResp, error)
	Open(*OpenReq) (*OpenResp, int, error)
	OpenCreate(*OpenCreateReq) (*OpenCreateResp, int, error)
	Mkdir(*MkdirReq) (*InodeResp, error)
	Mknod(*MknodReq) (*InodeResp, error)
	Symlink(*SymlinkReq) (*InodeResp, error)
	Link(*LinkReq) (*InodeResp, error)
	Unlink(*UnlinkReq) error
	Rename(*RenameReq) error
	Readlink(*FDReq) (*ReadlinkResp, error)
	Getdents64(*Getdents64Req) (*Getdents64Resp, error)
	SetStat(*SetStatReq) error
	StatFS(*FDReq) (*StatFSResp, error)
	Fsync(*FDsReq) error
	Flush(*FDReq) error
	Close(*FDsReq) error
	// Release drops every handle; it is called once, after the connection
	// ended and no other method is running.
	Release()
}

// Backend makes a Session for each new connection.
type Backend interface {
	NewSession() Session
}

// Server runs request loops for any number of connections. At most
// Workers requests are handled at once across all of them: a connection's
// reader stops reading while every worker is busy, so a flood of requests
// queues in the socket rather than in goroutines.
type Server struct {
	backend Backend
	workers chan struct{}
}

// DefaultWorkers is the number of concurrent requests a server handles
// when NewServer is given zero. Requests block in host syscalls, so it is
// a small multiple of the CPUs.
func DefaultWorkers() int { return 4 * runtime.GOMAXPROCS(0) }

// NewServer returns a server that serves backend's sessions with at most
// workers requests in progress (DefaultWorkers if workers <= 0).
func NewServer(backend Backend, workers int) *Server {
	if workers <= 0 {
		workers = DefaultWorkers()
	}
	return &Server{backend: backend, workers: make(chan struct{}, workers)}
}

// Serve runs one connection on sock, an AF_UNIX SOCK_SEQPACKET socket it
// takes ownership of, until the client closes it (nil) or breaks the
// protocol or the socket fails (the error). All the session's handles are
// released before it returns.
func (s *Server) Serve(sock *os.File) error {
	cn, err := newConn(sock)
	if err != nil {
		return err
	}
	defer cn.close()
	sess := s.backend.NewSession()
	var inflight sync.WaitGroup
	defer func() {
		inflight.Wait()
		sess.Release()
	}()

	buf := make([]byte, MaxMessageSize+1)
	oob := make([]byte, oobSize)
	for {
		h, body, fds, err := cn.recv(buf, oob)
		if err != nil {
			// A peer that closes with requests in flight resets the socket.
			if errors.Is(err, errClosedByPeer) || errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
				// Requests in flight still get their replies, for a
				// client that only shut down its sending side.
				return nil
			}
			// Close before waiting: a handler blocked sending to a
			// client that stopped reading must not hold Serve up.
			cn.close()
			return err
		}
		if len(fds) != 0 {
			closeAll(fds)
			cn.close()
			return errBadDatagram
		}
		req := append([]byte(nil), body...)
		s.workers <- struct{}{}
		inflight.Add(1)
		go func() {
			defer func() {
				<-s.workers
				inflight.Done()
			}()
			s.handle(cn, sess, h, req)
		}()
	}
}

// handle runs one request and sends its reply. A send failure means the
// connection is going away; the reader sees that too.
func (s *Server) handle(cn *conn, sess Session, h Header, body []byte) {
	var resp message
	hostFD := -1
	var err error
	if h.Errno != 0 {
		err = linux.EINVAL
	} else {
		resp, hostFD, err = dispatch(sess, h.Type, &decoder{buf: body})
	}
	defer func() {
		if hostFD >= 0 {
			unix.Close(hostFD)
		}
	}()

	bp := encPool.Get().(*[]byte)
	defer func() { encPool.Put(bp) }()
	e := newEncoder(*bp)
	var fds []int
	if err == nil {
		resp.encode(&e)
		if len(e.buf) > MaxMessageSize {
			log.Warningf("lisafs: %v reply of %d bytes exceeds the message limit", h.Type, len(e.buf))
			e = newEncoder(e.buf)
			err = linux.EIO
		} else if hostFD >= 0 {
			fds = []int{hostFD}
		}
	}
	var msg []byte
	if err != nil {
		msg = e.finish(h.Type, errnoOf(err), h.Tag)
	} else {
		msg = e.finish(h.Type, 0, h.Tag)
	}
	*bp = e.buf[:0]
	if sendErr := cn.send(msg, fds); sendErr != nil {
		log.Debugf("lisafs: sending %v reply: %v", h.Type, sendErr)
	}
}

// errnoOf turns a Session error into the number sent on the wire.
func errnoOf(err error) uint16 {
	var le linux.Errno
	if errors.As(err, &le) && le != 0 && le <= linux.MaxErrno {
		return uint16(le)
	}
	var ue unix.Errno
	if errors.As(err, &ue) && ue != 0 && ue <= linux.MaxErrno {
		return uint16(ue)
	}
	log.Debugf("lisafs: non-errno error becomes EIO: %v", err)
	return uint16(linux.EIO)
}

// decodeReq fills req from the whole of d.
func decodeReq(d *decoder, req message) error {
	req.decode(d)
	return d.done()
}

// dispatch decodes a request of type t and runs it.
func dispatch(sess Session, t MsgType, d *decoder) (message, int, error) {
	noFD := func(resp message, err error) (message, int, error) { return resp, -1, err }
	switch t {
	case MsgMount:
		var req MountReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Mount(&req))
	case MsgWalk:
		var req WalkReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Walk(&req))
	case MsgWalkStat:
		var req WalkStatReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.WalkStat(&req))
	case MsgStat:
		var req FDReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Stat(&req))
	case MsgOpen:
		var req OpenReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return sess.Open(&req)
	case MsgOpenCreate:
		var req OpenCreateReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return sess.OpenCreate(&req)
	case MsgMkdir:
		var req MkdirReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Mkdir(&req))
	case MsgMknod:
		var req MknodReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Mknod(&req))
	case MsgSymlink:
		var req SymlinkReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Symlink(&req))
	case MsgLink:
		var req LinkReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Link(&req))
	case MsgUnlink:
		var req UnlinkReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return &Empty{}, -1, sess.Unlink(&req)
	case MsgRename:
		var req RenameReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return &Empty{}, -1, sess.Rename(&req)
	case MsgReadlink:
		var req FDReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Readlink(&req))
	case MsgGetdents64:
		var req Getdents64Req
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.Getdents64(&req))
	case MsgSetStat:
		var req SetStatReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return &Empty{}, -1, sess.SetStat(&req)
	case MsgStatFS:
		var req FDReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return noFD(sess.StatFS(&req))
	case MsgFsync:
		var req FDsReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return &Empty{}, -1, sess.Fsync(&req)
	case MsgFlush:
		var req FDReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return &Empty{}, -1, sess.Flush(&req)
	case MsgClose:
		var req FDsReq
		if err := decodeReq(d, &req); err != nil {
			return nil, -1, err
		}
		return &Empty{}, -1, sess.Close(&req)
	}
	return nil, -1, linux.ENOSYS
}
