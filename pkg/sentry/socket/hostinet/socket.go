package hostinet

import (
	"context"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/fdnotifier"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// maxSockaddrLen is sizeof(struct sockaddr_storage).
const maxSockaddrLen = 128

// Socket is one application socket backed by one host socket, and the
// implementation of its file description.
type Socket struct {
	vfs.FileDescriptionDefaultImpl

	// fd is the host socket, owned by this Socket and closed by
	// Release; always O_NONBLOCK on the host.
	fd       int32
	vfsObj   *vfs.VirtualFilesystem
	family   int
	stype    int
	notifier *fdnotifier.Notifier
	// queue is notified by notifier with the host's readiness events.
	queue waiter.Queue

	// rcvTimeout and sndTimeout are SO_RCVTIMEO and SO_SNDTIMEO in
	// nanoseconds, 0 for none. Kept here, never on the host socket,
	// so that waits stay in the Sentry.
	rcvTimeout, sndTimeout atomic.Int64
}

var _ socket.Socket = (*Socket)(nil)

// newFD wraps the host socket hostFD (which it owns from now on, even
// on failure) in a file description.
func newFD(vfsObj *vfs.VirtualFilesystem, hostFD int32, family, stype int, nonblock bool) (*vfs.FileDescription, error) {
	n, err := fdnotifier.Default()
	if err != nil {
		hostClose(hostFD)
		return nil, err
	}
	s := &Socket{fd: hostFD, vfsObj: vfsObj, family: family, stype: stype, notifier: n}
	if err := n.AddFD(hostFD, &s.queue); err != nil {
		hostClose(hostFD)
		if err == fdnotifier.ErrNotPollable {
			err = linux.EINVAL
		}
		return nil, err
	}
	flags := uint32(linux.O_RDWR)
	if nonblock {
		flags |= linux.O_NONBLOCK
	}
	fd := &vfs.FileDescription{}
	fd.Init(s, flags, vfsObj.NewSocketVirtualDentry(0, nil), &vfs.FileDescriptionOptions{Stream: true})
	return fd, nil
}

// Release implements vfs.FileDescriptionImpl. The registration goes
// before the close so a reused host fd number cannot inherit it.
func (s *Socket) Release(context.Context) {
	s.notifier.RemoveFD(s.fd)
	hostClose(s.fd)
}

// Readiness implements waiter.Waitable by asking the host.
func (s *Socket) Readiness(mask waiter.EventMask) waiter.EventMask {
	return fdnotifier.Readiness(s.fd, mask)
}

// EventRegister implements waiter.Waitable.
func (s *Socket) EventRegister(e *waiter.Entry) error {
	s.queue.EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.queue.EventUnregister(e) }

// Read implements vfs.FileDescriptionImpl: read(2) is recv(2) without
// flags.
func (s *Socket) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	res, err := s.RecvMsg(ctx, dst, 0, opts.Nonblocking)
	if res.N > 0 {
		return res.N, nil
	}
	return 0, err
}

// Write implements vfs.FileDescriptionImpl: write(2) is send(2) without
// flags (SIGPIPE is the system call layer's).
func (s *Socket) Write(ctx context.Context, src vfs.IOSequence, off int64, opts vfs.WriteOptions) (int64, int64, error) {
	n, err := s.SendMsg(ctx, src, nil, nil, nil, 0, opts.Nonblocking)
	return n, off + n, err
}
