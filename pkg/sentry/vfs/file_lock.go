package vfs

import (
	"context"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs/lock"
)

// Advisory file locks (flock(2), fcntl(2) record locks) hang off inodes.
// Filesystems need not know: the VFS keeps one lock.FileLocks per inode
// that has locks, in a registry keyed by the Inode, made on the first lock
// and dropped once idle. A lock can only be held through an open file, and
// every kind of lock is released by some close, so an entry never
// outlives the inode's use. Files opened without a path (none today) are
// keyed by their FileDescription.
//
// Locks are not saved by checkpoints: a restored sandbox starts without
// any (their holders' waits are not saved either).
type lockRegistry struct {
	// mu guards entries.
	mu      sync.Mutex
	entries map[any]*lockEntry
	// live counts entries, so that close can skip the registry when no
	// file anywhere is locked.
	live atomic.Int64
}

type lockEntry struct {
	locks lock.FileLocks
	// users counts callers between get and put (guarded by
	// lockRegistry.mu); the entry is dropped only when it has none and
	// is idle, so that two callers never see different entries.
	users int
}

var fileLocks lockRegistry

func (fd *FileDescription) lockKey() any {
	if fd.vd.Ok() {
		return fd.vd.dentry.inode
	}
	return fd
}

// get returns the entry of key, made if create, with a use the caller
// puts; nil if there is none and !create.
func (r *lockRegistry) get(key any, create bool) *lockEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[key]
	if e == nil {
		if !create {
			return nil
		}
		if r.entries == nil {
			r.entries = make(map[any]*lockEntry)
		}
		e = &lockEntry{}
		r.entries[key] = e
		r.live.Add(1)
	}
	e.users++
	return e
}

func (r *lockRegistry) put(key any, e *lockEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.users--
	if e.users == 0 && e.locks.Idle() {
		delete(r.entries, key)
		r.live.Add(-1)
	}
}

// withLocks calls f with the locks of fd's inode; with create false, f is
// not called when the inode has none.
func (fd *FileDescription) withLocks(create bool, f func(*lock.FileLocks) error) error {
	if !create && fileLocks.live.Load() == 0 {
		return nil
	}
	key := fd.lockKey()
	e := fileLocks.get(key, create)
	if e == nil {
		return nil
	}
	defer fileLocks.put(key, e)
	return f(&e.locks)
}

// Flock implements flock(2): operation is LOCK_SH, LOCK_EX or LOCK_UN,
// optionally with LOCK_NB. The lock belongs to fd (every descriptor that
// shares it) and goes with its last close. A conversion drops the old
// lock before waiting for the new one, as Linux does.
func (fd *FileDescription) Flock(ctx context.Context, operation int32) error {
	var typ lock.Type
	switch operation &^ linux.LOCK_NB {
	case linux.LOCK_SH:
		typ = lock.ReadLock
	case linux.LOCK_EX:
		typ = lock.WriteLock
	case linux.LOCK_UN:
		if fd.isPath() {
			return linux.EBADF
		}
		return fd.withLocks(false, func(l *lock.FileLocks) error {
			l.Flock.UnlockAll(fd)
			return nil
		})
	default:
		return linux.EINVAL
	}
	if fd.isPath() {
		return linux.EBADF
	}
	return fd.withLocks(true, func(l *lock.FileLocks) error {
		err := l.Flock.Lock(BlockerFromContext(ctx), lock.Request{
			Owner: fd, Type: typ, Range: lock.WholeFile,
			Block: operation&linux.LOCK_NB == 0, ReplaceFirst: true,
		})
		if err == linux.EAGAIN {
			return linux.EWOULDBLOCK
		}
		return err
	})
}

// RecordLockOwner says whose a record lock is.
type RecordLockOwner struct {
	// Table is the POSIX lock owner: the caller's descriptor table, as
	// Linux's fl_owner is its files_struct. Nil for an OFD lock, which
	// belongs to the FileDescription.
	Table *FDTable
	// Process names the calling process for F_GETLK's l_pid; kept
	// opaque here.
	Process any
}

func (fd *FileDescription) recordOwner(o RecordLockOwner) lock.Owner {
	if o.Table != nil {
		return o.Table
	}
	return fd
}

// SetRecordLock implements F_SETLK(W) and F_OFD_SETLK(W) for a lock of
// typ over r; block waits for conflicting locks to go. A conflict without
// blocking is EAGAIN; a POSIX wait that would deadlock is EDEADLK.
func (fd *FileDescription) SetRecordLock(ctx context.Context, o RecordLockOwner, typ lock.Type, r lock.Range, block bool) error {
	if typ == lock.ReadLock && !fd.IsReadable() || typ == lock.WriteLock && !fd.IsWritable() {
		return linux.EBADF
	}
	return fd.withLocks(true, func(l *lock.FileLocks) error {
		return l.Record.Lock(BlockerFromContext(ctx), lock.Request{
			Owner: fd.recordOwner(o), Process: o.Process, Type: typ, Range: r,
			Block: block, DetectDeadlock: o.Table != nil,
		})
	})
}

// UnlockRecord implements F_UNLCK for F_SETLK(W) and F_OFD_SETLK(W).
func (fd *FileDescription) UnlockRecord(o RecordLockOwner, r lock.Range) {
	fd.withLocks(false, func(l *lock.FileLocks) error {
		l.Record.Unlock(fd.recordOwner(o), r)
		return nil
	})
}

// TestRecordLock implements F_GETLK and F_OFD_GETLK: a lock of another
// owner that would block taking typ over r. Its Owner is a *FDTable for a
// POSIX lock, with Process set, and a *FileDescription for an OFD lock.
func (fd *FileDescription) TestRecordLock(o RecordLockOwner, typ lock.Type, r lock.Range) (lock.Lock, bool) {
	var held lock.Lock
	var found bool
	fd.withLocks(false, func(l *lock.FileLocks) error {
		held, found = l.Record.Test(fd.recordOwner(o), typ, r)
		return nil
	})
	return held, found
}

// OwnRecordLock implements F_OFD_GETLK with F_UNLCK (Linux 6.10 on):
// the lowest lock of fd's own over r.
func (fd *FileDescription) OwnRecordLock(r lock.Range) (lock.Lock, bool) {
	var held lock.Lock
	var found bool
	fd.withLocks(false, func(l *lock.FileLocks) error {
		held, found = l.Record.TestOwn(fd, r)
		return nil
	})
	return held, found
}

// ReleasePOSIXLocks drops the POSIX record locks that table holds on
// fd's inode: Linux does so whenever a process closes any descriptor of
// the file, whichever open file description the locks were taken through.
func ReleasePOSIXLocks(table *FDTable, fd *FileDescription) {
	fd.withLocks(false, func(l *lock.FileLocks) error {
		l.Record.UnlockAll(table)
		return nil
	})
}

// releaseLocks drops the locks owned by fd itself (flock and OFD) at its
// last close.
func (fd *FileDescription) releaseLocks() {
	fd.withLocks(false, func(l *lock.FileLocks) error {
		l.Flock.UnlockAll(fd)
		l.Record.UnlockAll(fd)
		return nil
	})
}

// Close closes descriptor n, as close(2) does: the table's POSIX locks
// on the file go, and so does the table's reference. It fails with EBADF
// if n is not open.
func (t *FDTable) Close(ctx context.Context, n int32) error {
	f := t.Remove(n)
	if f == nil {
		return linux.EBADF
	}
	t.closed(ctx, f)
	return nil
}

// closed finishes closing f after its removal from t. Like the POSIX
// locks, the F_NOTIFY registration of t on f goes.
func (t *FDTable) closed(ctx context.Context, f *FileDescription) {
	ReleasePOSIXLocks(t, f)
	dnotifyFlush(t, f)
	f.DecRef(ctx)
}
