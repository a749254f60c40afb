package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/sentry/vfs/lock"
)

// lockMand is flock(2)'s obsolete LOCK_MAND bit: Linux ignores such
// requests (they never worked) and succeeds before looking at the fd.
const lockMand = 32

// Flock implements flock(2).
func Flock(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	fd, op := args[0].Int(), args[1].Int()
	if op&lockMand != 0 {
		return 0, nil
	}
	switch op &^ abilinux.LOCK_NB {
	case abilinux.LOCK_SH, abilinux.LOCK_EX, abilinux.LOCK_UN:
	default:
		return 0, abilinux.EINVAL
	}
	f, err := t.GetFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	return 0, f.Flock(t.Context(), op)
}

// fcntlLock implements the record-lock commands of fcntl(2): F_GETLK,
// F_SETLK, F_SETLKW (POSIX locks, owned by the caller's descriptor table
// and released by any close of the file) and their F_OFD_* forms (owned
// by the open file description), checking arguments in Linux's order.
func fcntlLock(t *kernel.Task, f *vfs.FileDescription, cmd int32, addr uintptr) error {
	var fl abilinux.Flock
	if err := t.MemoryManager().CopyObjectIn(addr, &fl); err != nil {
		return err
	}
	ofd := cmd == abilinux.F_OFD_GETLK || cmd == abilinux.F_OFD_SETLK || cmd == abilinux.F_OFD_SETLKW
	get := cmd == abilinux.F_GETLK || cmd == abilinux.F_OFD_GETLK
	// Since Linux 6.10, F_OFD_GETLK accepts F_UNLCK, asking for the
	// description's own lock in the range.
	if cmd == abilinux.F_GETLK && fl.Type != abilinux.F_RDLCK && fl.Type != abilinux.F_WRLCK {
		return abilinux.EINVAL
	}
	r, err := flockRange(t, f, &fl)
	if err != nil {
		return err
	}
	var typ lock.Type
	switch fl.Type {
	case abilinux.F_RDLCK:
		typ = lock.ReadLock
	case abilinux.F_WRLCK:
		typ = lock.WriteLock
	case abilinux.F_UNLCK:
	default:
		return abilinux.EINVAL
	}
	if !get && (fl.Type == abilinux.F_RDLCK && !f.IsReadable() || fl.Type == abilinux.F_WRLCK && !f.IsWritable()) {
		return abilinux.EBADF
	}
	if ofd && fl.PID != 0 {
		return abilinux.EINVAL
	}
	var owner vfs.RecordLockOwner
	if !ofd {
		owner = vfs.RecordLockOwner{Table: t.FDTable(), Process: t.ThreadGroup()}
	}
	switch {
	case get:
		var held lock.Lock
		var ok bool
		if fl.Type == abilinux.F_UNLCK {
			held, ok = f.OwnRecordLock(r)
		} else {
			held, ok = f.TestRecordLock(owner, typ, r)
		}
		if !ok {
			fl.Type = abilinux.F_UNLCK
		} else {
			fl.Type = abilinux.F_RDLCK
			if held.Type == lock.WriteLock {
				fl.Type = abilinux.F_WRLCK
			}
			fl.Whence = abilinux.SEEK_SET
			fl.Start, fl.Len = held.Range.Flock()
			fl.PID = -1
			if tg, ok := held.Process.(*kernel.ThreadGroup); ok {
				fl.PID = int32(t.ThreadGroupIDOf(tg))
			}
		}
		return t.MemoryManager().CopyObjectOut(addr, &fl)
	case fl.Type == abilinux.F_UNLCK:
		f.UnlockRecord(owner, r)
		return nil
	default:
		block := cmd == abilinux.F_SETLKW || cmd == abilinux.F_OFD_SETLKW
		return f.SetRecordLock(t.Context(), owner, typ, r, block)
	}
}

// flockRange resolves struct flock's l_whence, l_start and l_len against
// f.
func flockRange(t *kernel.Task, f *vfs.FileDescription, fl *abilinux.Flock) (lock.Range, error) {
	var base int64
	switch fl.Whence {
	case abilinux.SEEK_SET:
	case abilinux.SEEK_CUR:
		if !f.IsStream() {
			base = f.Offset()
		}
	case abilinux.SEEK_END:
		st, err := f.Stat(t.Context(), vfs.StatOptions{Mask: abilinux.STATX_SIZE})
		if err != nil {
			return lock.Range{}, err
		}
		base = int64(st.Size)
	default:
		return lock.Range{}, abilinux.EINVAL
	}
	return lock.ComputeRange(base, fl.Start, fl.Len)
}
