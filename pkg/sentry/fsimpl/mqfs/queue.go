package mqfs

import (
	"context"
	"fmt"
	"sort"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// queueFileSize is st_size of a queue file, as Linux reports it.
const queueFileSize = 80

// message is one queued message.
type message struct {
	data []byte
	prio uint32
}

// queueInode is a message queue.
type queueInode struct {
	inode

	maxMsg, msgSize int

	// waiters are woken with ReadableEvents when a message arrives and
	// WritableEvents when one leaves.
	waiters waiter.Queue

	// The fields below are guarded by inode.mu.
	//
	// msgs holds the messages by decreasing priority, oldest first
	// within a priority.
	msgs []message
	// qsize is the bytes of all messages (QSIZE in the status line).
	qsize int
	// receivers counts receivers blocked on the empty queue: a message
	// sent to them is not a notification's "arrival on an empty queue".
	receivers int
	// notify is the registered notification, if owner is not nil.
	owner  *kernel.ThreadGroup
	notify linux.Sigevent
	// unlinked is set once the queue's name is gone.
	unlinked bool
}

// Stat implements vfs.Inode.
func (q *queueInode) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	q.mu.Lock()
	nlink := uint32(1)
	if q.unlinked {
		nlink = 0
	}
	q.mu.Unlock()
	return q.stat(nlink, queueFileSize), nil
}

// Open implements vfs.Inode.
func (q *queueInode) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	fd := &QueueFD{queue: q}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// QueueFD is an open message queue: what mq_open returns.
type QueueFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	queue *queueInode
}

// Attr returns the queue's attributes with flags as mq_getattr reports
// them: the description's O_NONBLOCK only.
func (fd *QueueFD) Attr() linux.MqAttr {
	q := fd.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	return linux.MqAttr{
		Flags:   int64(fd.vfsfd.StatusFlags() & linux.O_NONBLOCK),
		MaxMsg:  int64(q.maxMsg),
		MsgSize: int64(q.msgSize),
		CurMsgs: int64(len(q.msgs)),
	}
}

// wait sleeps until the queue's waiters hear mask, or until deadline
// (the zero time: no deadline). q.mu is held and released.
func (q *queueInode) waitLocked(ctx context.Context, mask waiter.EventMask, deadline time.Time) error {
	w, ch := waiter.NewChannelEntry(mask)
	q.waiters.EventRegister(w)
	q.mu.Unlock()
	defer q.waiters.EventUnregister(w)
	b := vfs.BlockerFromContext(ctx)
	if deadline.IsZero() {
		return b.Block(ch)
	}
	return b.BlockWithDeadline(ch, deadline)
}

// Send implements mq_timedsend once the caller has copied the message
// in: it waits for room unless the description is non-blocking (EAGAIN),
// up to deadline (ETIMEDOUT; the zero time waits forever). sender is the
// calling task, for the notification's si_pid and si_uid.
func (fd *QueueFD) Send(ctx context.Context, sender *kernel.Task, data []byte, prio uint32, deadline time.Time) error {
	if !fd.vfsfd.IsWritable() {
		return linux.EBADF
	}
	q := fd.queue
	if len(data) > q.msgSize {
		return linux.EMSGSIZE
	}
	q.mu.Lock()
	for len(q.msgs) >= q.maxMsg {
		if fd.vfsfd.IsNonblocking() {
			q.mu.Unlock()
			return linux.EAGAIN
		}
		if err := q.waitLocked(ctx, waiter.WritableEvents, deadline); err != nil {
			return err
		}
		q.mu.Lock()
	}
	i := sort.Search(len(q.msgs), func(i int) bool { return q.msgs[i].prio < prio })
	q.msgs = append(q.msgs, message{})
	copy(q.msgs[i+1:], q.msgs[i:])
	q.msgs[i] = message{data: append([]byte(nil), data...), prio: prio}
	q.qsize += len(data)
	// A notification is for a message arriving on an empty queue that
	// no receiver is waiting on; it then ends.
	var owner *kernel.ThreadGroup
	var ev linux.Sigevent
	if len(q.msgs) == 1 && q.receivers == 0 && q.owner != nil {
		owner, ev = q.owner, q.notify
		q.owner = nil
	}
	q.mu.Unlock()
	q.waiters.Notify(waiter.ReadableEvents)
	if owner != nil && ev.Notify == linux.SIGEV_SIGNAL {
		info := &linux.SignalInfo{Signo: ev.Signo, Code: linux.SI_MESGQ}
		if l := owner.Leader(); l != nil {
			info.SetPID(int32(l.ThreadGroupIDOf(sender.ThreadGroup())))
		}
		info.SetUID(uint32(sender.Credentials().RealKUID))
		info.SetSigval(ev.Value)
		// A process that has exited simply misses it, as on Linux.
		_ = owner.SendGroupSignal(info)
	}
	return nil
}

// Receive implements mq_timedreceive: it takes the oldest message of the
// highest priority, waiting as Send does. size is the caller's buffer,
// which must hold the largest message (EMSGSIZE).
func (fd *QueueFD) Receive(ctx context.Context, size int64, deadline time.Time) ([]byte, uint32, error) {
	if !fd.vfsfd.IsReadable() {
		return nil, 0, linux.EBADF
	}
	q := fd.queue
	if size < int64(q.msgSize) {
		return nil, 0, linux.EMSGSIZE
	}
	q.mu.Lock()
	for len(q.msgs) == 0 {
		if fd.vfsfd.IsNonblocking() {
			q.mu.Unlock()
			return nil, 0, linux.EAGAIN
		}
		q.receivers++
		err := q.waitLocked(ctx, waiter.ReadableEvents, deadline)
		q.mu.Lock()
		q.receivers--
		if err != nil {
			q.mu.Unlock()
			return nil, 0, err
		}
	}
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	q.qsize -= len(m.data)
	q.mu.Unlock()
	q.waiters.Notify(waiter.WritableEvents)
	return m.data, m.prio, nil
}

// Notify implements mq_notify: ev registers tg (EBUSY if a process
// already is), nil removes tg's registration.
func (fd *QueueFD) Notify(tg *kernel.ThreadGroup, ev *linux.Sigevent) error {
	q := fd.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if ev == nil {
		if q.owner == tg {
			q.owner = nil
		}
		return nil
	}
	if q.owner != nil {
		return linux.EBUSY
	}
	q.owner, q.notify = tg, *ev
	return nil
}

// Read implements vfs.FileDescriptionImpl: the status line, as Linux
// formats it, from offset on.
func (fd *QueueFD) Read(ctx context.Context, dst vfs.IOSequence, offset int64, _ vfs.ReadOptions) (int64, error) {
	q := fd.queue
	q.mu.Lock()
	notify, signo, pid := int32(0), int32(0), int32(0)
	if q.owner != nil {
		notify = q.notify.Notify
		if notify == linux.SIGEV_SIGNAL {
			signo = q.notify.Signo
		}
		if t := kernel.TaskFromContext(ctx); t != nil {
			pid = int32(t.ThreadGroupIDOf(q.owner))
		}
	}
	s := fmt.Sprintf("QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", q.qsize, notify, signo, pid)
	q.mu.Unlock()
	if offset >= int64(len(s)) {
		return 0, nil
	}
	n, err := dst.CopyOut(ctx, []byte(s[offset:]))
	return int64(n), err
}

// Release implements vfs.FileDescriptionImpl: a process's notification
// ends when it closes the queue (Linux does this at each close by the
// owner; here it is the last close of this description, by the owner).
func (fd *QueueFD) Release(ctx context.Context) {
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		return
	}
	q := fd.queue
	q.mu.Lock()
	if q.owner == t.ThreadGroup() {
		q.owner = nil
	}
	q.mu.Unlock()
}

// Readiness implements waiter.Waitable.
func (fd *QueueFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	q := fd.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	var r waiter.EventMask
	if len(q.msgs) != 0 {
		r |= waiter.ReadableEvents
	}
	if len(q.msgs) < q.maxMsg {
		r |= waiter.WritableEvents
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (fd *QueueFD) EventRegister(e *waiter.Entry) error {
	fd.queue.waiters.EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (fd *QueueFD) EventUnregister(e *waiter.Entry) { fd.queue.waiters.EventUnregister(e) }

// Open implements mq_open once the caller has validated the name: it
// opens (creating with O_CREAT, with attr or the defaults) the queue
// called name in r.
func (r *Registry) Open(ctx context.Context, creds *auth.Credentials, name string, flags uint32, mode linux.FileMode, attr *linux.MqAttr) (*vfs.FileDescription, error) {
	root := r.Root()
	pop := &vfs.PathOperation{Root: root, Start: root, Path: name}
	if attr != nil {
		ctx = attrContext{Context: ctx, attr: attr}
	}
	fd, err := r.fs.vfsfs.VirtualFilesystem().OpenAt(ctx, creds, pop, &vfs.OpenOptions{Flags: flags, Mode: mode})
	if err != nil {
		return nil, err
	}
	if _, ok := fd.Impl().(*QueueFD); !ok {
		fd.DecRef(ctx)
		return nil, linux.EACCES
	}
	return fd, nil
}

// Unlink implements mq_unlink.
func (r *Registry) Unlink(ctx context.Context, creds *auth.Credentials, name string) error {
	root := r.Root()
	return r.fs.vfsfs.VirtualFilesystem().UnlinkAt(ctx, creds, &vfs.PathOperation{Root: root, Start: root, Path: name})
}
