package devpts

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	kern "appkernel.dev/appkernel/pkg/sentry/kernel" // not "kernel": stateify would keep an unused import
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// pty is one pseudoterminal pair.
//
// +stateify savable
type pty struct {
	fs    *filesystem
	index uint32
	ld    *ldisc
	// replica is the replica's node.
	replica *replicaInode
	// tc is the replica's job-control state.
	tc kern.TTYControl

	// The fields below are guarded by ld.mu.

	// locked is the TIOCSPTLCK lock, set at creation: the replica cannot
	// be opened until unlockpt.
	locked bool
	// exclusive is TIOCEXCL: further opens of the replica need
	// CAP_SYS_ADMIN.
	exclusive bool
}

func newPty(fs *filesystem, idx uint32) *pty {
	p := &pty{fs: fs, index: idx, locked: true}
	p.ld = newLdisc(p.tc.SignalForeground)
	return p
}

// ptmxInode is the ptmx node: each open makes a new pair.
//
// +stateify savable
type ptmxInode struct {
	attrs
}

// Open implements vfs.Inode.
func (n *ptmxInode) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	creds := auth.CredentialsFromContext(ctx)
	if creds == nil {
		creds = auth.NewAnonymousCredentials()
	}
	p, err := n.fs.newPty(creds)
	if err != nil {
		return nil, err
	}
	fd := &masterFD{pty: p}
	fd.vfsfd.Init(fd, opts.Flags, vd, &vfs.FileDescriptionOptions{Stream: true})
	return &fd.vfsfd, nil
}

// replicaInode is the node of a pair's replica.
//
// +stateify savable
type replicaInode struct {
	attrs
	pty *pty
}

// TTYControl implements kernel.TTY.
func (n *replicaInode) TTYControl() *kern.TTYControl { return &n.pty.tc }

// TTYDevice implements kernel.TTY.
func (n *replicaInode) TTYDevice() (uint32, uint32) { return n.rdevMajor, n.rdevMinor }

// Open implements vfs.Inode. A locked pair, or a hung-up one, fails with
// EIO; an exclusive one with EBUSY unless the caller has CAP_SYS_ADMIN.
// A session leader without a controlling terminal acquires it (unless
// O_NOCTTY).
func (n *replicaInode) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	p := n.pty
	l := p.ld
	l.mu.Lock()
	if p.locked || l.hungUp {
		l.mu.Unlock()
		return nil, linux.EIO
	}
	if p.exclusive {
		if c := auth.CredentialsFromContext(ctx); c == nil || !c.HasCapability(linux.CAP_SYS_ADMIN) {
			l.mu.Unlock()
			return nil, linux.EBUSY
		}
	}
	l.replicas++
	l.replicaOpened = true
	l.unlock()
	fd := &replicaFD{pty: p}
	fd.vfsfd.Init(fd, opts.Flags, vd, &vfs.FileDescriptionOptions{Stream: true})
	p.tc.Opened(ctx, opts.Flags)
	return &fd.vfsfd, nil
}

// masterFD is an open master.
//
// +stateify savable
type masterFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	pty   *pty
}

// Release implements vfs.FileDescriptionImpl: the replica hangs up and
// its node goes away.
func (fd *masterFD) Release(context.Context) {
	p := fd.pty
	l := p.ld
	l.mu.Lock()
	l.hungUp = true
	l.pendingReplica |= waiter.ReadableEvents | waiter.WritableEvents | waiter.EventHUp | waiter.EventErr
	l.unlock()
	p.fs.removePty(p)
	p.tc.Hangup()
}

// Read implements vfs.FileDescriptionImpl.
func (fd *masterFD) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	return fd.pty.ld.masterRead(ctx, dst, opts.Nonblocking)
}

// Write implements vfs.FileDescriptionImpl.
func (fd *masterFD) Write(ctx context.Context, src vfs.IOSequence, offset int64, opts vfs.WriteOptions) (int64, int64, error) {
	n, err := fd.pty.ld.masterWrite(ctx, src, opts.Nonblocking)
	return n, offset + n, err
}

// Ioctl implements vfs.FileDescriptionImpl.
func (fd *masterFD) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	return fd.pty.ioctl(ctx, &fd.vfsfd, mem, true, cmd, arg)
}

// Readiness implements waiter.Waitable.
func (fd *masterFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	return fd.pty.ld.masterReadiness(mask)
}

// EventRegister implements waiter.Waitable.
func (fd *masterFD) EventRegister(e *waiter.Entry) error {
	fd.pty.ld.masterQ.EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (fd *masterFD) EventUnregister(e *waiter.Entry) { fd.pty.ld.masterQ.EventUnregister(e) }

// replicaFD is an open replica.
//
// +stateify savable
type replicaFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	pty   *pty
}

// Release implements vfs.FileDescriptionImpl.
func (fd *replicaFD) Release(context.Context) {
	l := fd.pty.ld
	l.mu.Lock()
	l.replicas--
	if l.replicas == 0 {
		l.pendingMaster |= waiter.EventHUp | waiter.ReadableEvents
	}
	l.unlock()
}

// Read implements vfs.FileDescriptionImpl: a background process is
// stopped with SIGTTIN first.
func (fd *replicaFD) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	if fd.pty.hungUp() {
		return 0, nil
	}
	if err := fd.pty.tc.CheckRead(ctx); err != nil {
		return 0, err
	}
	return fd.pty.ld.replicaRead(ctx, dst, opts.Nonblocking)
}

// Write implements vfs.FileDescriptionImpl: with TOSTOP a background
// process is stopped with SIGTTOU first.
func (fd *replicaFD) Write(ctx context.Context, src vfs.IOSequence, offset int64, opts vfs.WriteOptions) (int64, int64, error) {
	l := fd.pty.ld
	l.mu.Lock()
	tostop, hungUp := l.lflag(linux.TOSTOP), l.hungUp
	l.mu.Unlock()
	if hungUp {
		return 0, offset, linux.EIO
	}
	if tostop {
		if err := fd.pty.tc.CheckChange(ctx); err != nil {
			return 0, offset, err
		}
	}
	n, err := l.replicaWrite(ctx, src, opts.Nonblocking)
	return n, offset + n, err
}

// Ioctl implements vfs.FileDescriptionImpl.
func (fd *replicaFD) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	return fd.pty.ioctl(ctx, &fd.vfsfd, mem, false, cmd, arg)
}

// Readiness implements waiter.Waitable.
func (fd *replicaFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	return fd.pty.ld.replicaReadiness(mask)
}

// EventRegister implements waiter.Waitable.
func (fd *replicaFD) EventRegister(e *waiter.Entry) error {
	fd.pty.ld.replicaQ.EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (fd *replicaFD) EventUnregister(e *waiter.Entry) { fd.pty.ld.replicaQ.EventUnregister(e) }

func (p *pty) hungUp() bool {
	p.ld.mu.Lock()
	defer p.ld.mu.Unlock()
	return p.ld.hungUp
}
