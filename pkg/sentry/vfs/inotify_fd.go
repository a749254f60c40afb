package vfs

import (
	"context"
	"encoding/binary"

	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Inotify is an inotify file (inotify_init1(2)): a set of watches and the
// queue of events they produced, read as struct inotify_event records.
// Not saved (see inotifyRegistry).
type Inotify struct {
	FileDescriptionDefaultImpl

	queue waiter.Queue

	// mu guards the fields below and every watch's mask and removed.
	mu sync.Mutex
	// byWD and byInode index the live watches.
	byWD    map[int32]*inotifyWatch
	byInode map[Inode]*inotifyWatch
	// nextWD is the last watch descriptor handed out; they are not
	// reused while the file lives, as Linux's cyclic allocation mostly
	// behaves.
	nextWD int32
	// events is the queue, oldest first; bytes is its size as read
	// returns it (FIONREAD).
	events []inotifyEvent
	bytes  int
	// wake is set when an event was queued under mu; unlock notifies
	// the waiters after releasing mu, so no waiter runs under it.
	wake bool
}

// unlock releases mu and wakes readers if events were queued.
func (in *Inotify) unlock() {
	wake := in.wake
	in.wake = false
	in.mu.Unlock()
	if wake {
		in.queue.Notify(waiter.ReadableEvents)
	}
}

// inotifyEvent is one queued event.
type inotifyEvent struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

// size is the event's length as read(2) returns it: the header, then the
// name NUL-terminated and padded to a multiple of the header size.
func (e *inotifyEvent) size() int {
	return linux.SizeofInotifyEvent + e.nameLen()
}

func (e *inotifyEvent) nameLen() int {
	if e.name == "" {
		return 0
	}
	const a = linux.SizeofInotifyEvent
	return (len(e.name) + 1 + a - 1) / a * a
}

func (e *inotifyEvent) encode(b []byte) []byte {
	var h [linux.SizeofInotifyEvent]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(e.wd))
	binary.LittleEndian.PutUint32(h[4:], e.mask)
	binary.LittleEndian.PutUint32(h[8:], e.cookie)
	binary.LittleEndian.PutUint32(h[12:], uint32(e.nameLen()))
	b = append(b, h[:]...)
	if n := e.nameLen(); n != 0 {
		b = append(b, e.name...)
		b = append(b, make([]byte, n-len(e.name))...)
	}
	return b
}

// inotifyMaxQueuedEvents is /proc/sys/fs/inotify/max_queued_events.
const inotifyMaxQueuedEvents = linux.INOTIFY_MAX_QUEUED_EVENTS

// NewInotifyFD returns a new inotify file. flags may hold IN_NONBLOCK;
// IN_CLOEXEC is the caller's.
func (vfs *VirtualFilesystem) NewInotifyFD(flags uint32) *FileDescription {
	in := &Inotify{byWD: make(map[int32]*inotifyWatch), byInode: make(map[Inode]*inotifyWatch)}
	fd := &FileDescription{}
	fd.Init(in, linux.O_RDONLY|flags&linux.IN_NONBLOCK, vfs.NewAnonVirtualDentry("inotify"), &FileDescriptionOptions{Stream: true})
	return fd
}

// InotifyCheckMask validates inotify_add_watch's mask, before the path is
// looked up as Linux does: at least one known bit (a watch may ask for no
// events), and not both IN_MASK_ADD and IN_MASK_CREATE.
func InotifyCheckMask(mask uint32) error {
	const known = linux.IN_ALL_EVENTS | linux.IN_UNMOUNT | linux.IN_Q_OVERFLOW | linux.IN_IGNORED |
		linux.IN_ONLYDIR | linux.IN_DONT_FOLLOW | linux.IN_EXCL_UNLINK | linux.IN_MASK_CREATE |
		linux.IN_MASK_ADD | linux.IN_ISDIR | linux.IN_ONESHOT
	if mask&(linux.IN_MASK_ADD|linux.IN_MASK_CREATE) == linux.IN_MASK_ADD|linux.IN_MASK_CREATE || mask&known == 0 {
		return linux.EINVAL
	}
	return nil
}

// AddWatch implements inotify_add_watch(2) for the file at vd, which the
// caller resolved (following a final symlink unless IN_DONT_FOLLOW) after
// InotifyCheckMask. It returns the watch descriptor: the existing one if
// in already watches the inode.
func (in *Inotify) AddWatch(ctx context.Context, creds *auth.Credentials, vd VirtualDentry, mask uint32) (int32, error) {
	inode := vd.dentry.inode
	if mask&linux.IN_ONLYDIR != 0 && inode.Type() != linux.S_IFDIR {
		return 0, linux.ENOTDIR
	}
	if err := inode.CheckPermission(ctx, creds, auth.MayRead); err != nil {
		return 0, err
	}
	keep := mask & (linux.IN_ALL_EVENTS | linux.IN_EXCL_UNLINK | linux.IN_ONESHOT)
	in.mu.Lock()
	defer in.mu.Unlock()
	if w, ok := in.byInode[inode]; ok {
		if mask&linux.IN_MASK_CREATE != 0 {
			return 0, linux.EEXIST
		}
		if mask&linux.IN_MASK_ADD != 0 {
			w.mask |= keep
		} else {
			w.mask = keep
		}
		return w.wd, nil
	}
	if len(in.byWD) >= linux.INOTIFY_MAX_USER_WATCHES {
		return 0, linux.ENOSPC
	}
	in.nextWD++
	w := &inotifyWatch{owner: in, wd: in.nextWD, inode: inode, mask: keep}
	in.byWD[w.wd] = w
	in.byInode[inode] = w
	inotifyRegister(w)
	return w.wd, nil
}

// RemoveWatch implements inotify_rm_watch(2): the watch ends with an
// IN_IGNORED event.
func (in *Inotify) RemoveWatch(wd int32) error {
	in.mu.Lock()
	defer in.unlock()
	w, ok := in.byWD[wd]
	if !ok {
		return linux.EINVAL
	}
	in.removeWatchLocked(w)
	return nil
}

// removeWatch ends w (if it has not ended) with IN_IGNORED.
func (in *Inotify) removeWatch(w *inotifyWatch) {
	in.mu.Lock()
	defer in.unlock()
	in.removeWatchLocked(w)
}

func (in *Inotify) removeWatchLocked(w *inotifyWatch) {
	if w.removed {
		return
	}
	w.removed = true
	delete(in.byWD, w.wd)
	delete(in.byInode, w.inode)
	inotifyUnregister(w)
	in.queueLocked(inotifyEvent{wd: w.wd, mask: linux.IN_IGNORED})
}

// deliver queues an event of w, if w asked for it.
func (in *Inotify) deliver(w *inotifyWatch, ev, cookie uint32, name string, unlinked bool) {
	in.mu.Lock()
	defer in.unlock()
	if w.removed || ev&w.mask&linux.IN_ALL_EVENTS == 0 {
		return
	}
	if unlinked && w.mask&linux.IN_EXCL_UNLINK != 0 {
		return
	}
	in.queueLocked(inotifyEvent{wd: w.wd, mask: ev, cookie: cookie, name: name})
	if w.mask&linux.IN_ONESHOT != 0 {
		in.removeWatchLocked(w)
	}
}

// queueLocked appends e unless it repeats the newest queued event; a
// full queue takes one IN_Q_OVERFLOW event instead.
func (in *Inotify) queueLocked(e inotifyEvent) {
	if n := len(in.events); n > 0 {
		if in.events[n-1] == e {
			return
		}
		if n >= inotifyMaxQueuedEvents {
			if in.events[n-1].mask == linux.IN_Q_OVERFLOW {
				return
			}
			e = inotifyEvent{wd: -1, mask: linux.IN_Q_OVERFLOW}
		}
	}
	in.events = append(in.events, e)
	in.bytes += e.size()
	in.wake = true
}

// Release implements FileDescriptionImpl: the watches go with the file.
func (in *Inotify) Release(context.Context) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, w := range in.byWD {
		w.removed = true
		inotifyUnregister(w)
	}
	in.byWD, in.byInode, in.events = nil, nil, nil
}

// Read implements FileDescriptionImpl: as many whole events as fit, or
// EINVAL if the first one does not.
func (in *Inotify) Read(ctx context.Context, dst IOSequence, _ int64, opts ReadOptions) (int64, error) {
	in.mu.Lock()
	for len(in.events) == 0 {
		if opts.Nonblocking {
			in.mu.Unlock()
			return 0, linux.EAGAIN
		}
		w, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
		in.queue.EventRegister(w)
		in.mu.Unlock()
		err := BlockerFromContext(ctx).Block(ch)
		in.queue.EventUnregister(w)
		if err != nil {
			return 0, err
		}
		in.mu.Lock()
	}
	room := int(min(dst.NumBytes(), 1<<30))
	var buf []byte
	n := 0
	for n < len(in.events) && len(buf)+in.events[n].size() <= room {
		buf = in.events[n].encode(buf)
		n++
	}
	if n == 0 {
		in.mu.Unlock()
		return 0, linux.EINVAL
	}
	in.events = in.events[n:]
	in.bytes -= len(buf)
	in.mu.Unlock()
	c, err := dst.CopyOut(ctx, buf)
	if c < len(buf) && err == nil {
		err = linux.EFAULT
	}
	if err != nil {
		return 0, err
	}
	return int64(c), nil
}

// Write implements FileDescriptionImpl: inotify files cannot be written.
func (in *Inotify) Write(context.Context, IOSequence, int64, WriteOptions) (int64, int64, error) {
	return 0, 0, linux.EBADF
}

// Ioctl implements FileDescriptionImpl: FIONREAD is the bytes queued.
func (in *Inotify) Ioctl(ctx context.Context, mem UserMemory, cmd uint32, arg uint64) (uint64, error) {
	if cmd != linux.FIONREAD {
		return 0, linux.ENOTTY
	}
	in.mu.Lock()
	n := in.bytes
	in.mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	if _, err := mem.CopyOutBytes(ctx, arg, b[:]); err != nil {
		return 0, err
	}
	return 0, nil
}

// Readiness implements waiter.Waitable.
func (in *Inotify) Readiness(mask waiter.EventMask) waiter.EventMask {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.events) != 0 {
		return mask & waiter.ReadableEvents
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (in *Inotify) EventRegister(e *waiter.Entry) error {
	in.queue.EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (in *Inotify) EventUnregister(e *waiter.Entry) { in.queue.EventUnregister(e) }
