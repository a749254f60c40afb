package host

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/fdnotifier"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// FDOptions qualify NewFD.
type FDOptions struct {
	// HaveFlags makes Flags the sandbox file description's status flags
	// (access mode, O_NONBLOCK, O_APPEND). Without it they are those of
	// the host open file.
	HaveFlags bool
	Flags     uint32

	// Notifier delivers host readiness; nil means fdnotifier.Default().
	Notifier *fdnotifier.Notifier
}

// inode is one host file: the host descriptor the Sentry owns and what
// was learnt about it when it was wrapped.
//
// +stateify savable
type inode struct {
	fs  *filesystem
	ino uint64

	// hostFD is owned by the inode and closed on release. A descriptor
	// does not survive a checkpoint: restore must donate it again.
	hostFD int32 // +state:nosave
	// ftype is the S_IF* type, fixed for the life of a descriptor.
	ftype linux.FileMode
	// isTTY is set for terminals (TCGETS succeeded on the host).
	isTTY bool

	// queue receives host readiness when pollable. The notifier is the
	// one hostFD is registered with.
	queue    waiter.Queue
	notifier *fdnotifier.Notifier // +state:nosave
	pollable bool

	// shared is the bookkeeping of the host file, which other wrapped
	// descriptors may share.
	shared *sharedHostFile // +state:nosave

	// appendMu serializes O_APPEND writes to a regular file, so that
	// finding the end and writing there is atomic for sandbox writers
	// (host processes writing the same file are not excluded).
	appendMu sync.Mutex // +state:nosave

	// tty is the terminal's sandbox-side state, shared by every
	// descriptor of the same terminal; nil unless isTTY.
	tty *ttyState
}

// NewFD wraps hostFD, which the Sentry received from the runtime, in a
// file description. On success the Sentry owns hostFD and closes it when
// the last reference to the file description goes; on failure the caller
// still owns it.
//
// Regular files, FIFOs and pipes, sockets and character devices
// (terminals included) are supported; other types fail with EINVAL.
func NewFD(ctx context.Context, vfsObj *vfs.VirtualFilesystem, hostFD int, opts FDOptions) (*vfs.FileDescription, error) {
	var st unix.Stat_t
	if err := fstat(hostFD, &st); err != nil {
		return nil, err
	}
	ftype := linux.FileMode(st.Mode) & linux.S_IFMT
	switch ftype {
	case linux.S_IFREG, linux.S_IFIFO, linux.S_IFSOCK, linux.S_IFCHR:
	default:
		return nil, linux.EINVAL
	}
	shared, hostFlags, err := acquireHostFile(hostFD, &st)
	if err != nil {
		return nil, err
	}
	// The flags before any wrapping are what the sandbox sees; the
	// current ones may already carry our O_NONBLOCK.
	flags := uint32(shared.origFlags) & (linux.O_ACCMODE | linux.O_NONBLOCK | linux.O_APPEND)
	if opts.HaveFlags {
		flags = opts.Flags
	}

	fs := getFilesystem(vfsObj)
	i := &inode{fs: fs, ino: fs.nextIno.Add(1), hostFD: int32(hostFD), ftype: ftype, shared: shared}
	var termios [linux.SizeofTermios]byte
	if ftype == linux.S_IFCHR {
		i.isTTY = ioctlPtr(hostFD, linux.TCGETS, &termios[0]) == nil
	}

	// Regular files are read and written at explicit offsets; the host
	// O_APPEND would make pwrite append regardless, so it is dropped
	// (the sandbox's O_APPEND is honoured by the write path). Everything
	// else becomes non-blocking so that no host call can park a thread.
	want := hostFlags
	if ftype == linux.S_IFREG {
		want &^= unix.O_APPEND
	} else {
		want |= unix.O_NONBLOCK
	}
	if want != hostFlags {
		if _, err := unix.FcntlInt(uintptr(hostFD), unix.F_SETFL, want); err != nil {
			i.releaseHostFile()
			return nil, hostErr(err)
		}
		shared.changed.Store(true)
	}

	if ftype != linux.S_IFREG {
		n := opts.Notifier
		if n == nil {
			if n, err = fdnotifier.Default(); err != nil {
				i.releaseHostFile()
				return nil, err
			}
		}
		switch err := n.AddFD(int32(hostFD), &i.queue); err {
		case nil:
			i.notifier, i.pollable = n, true
		case fdnotifier.ErrNotPollable:
		default:
			i.releaseHostFile()
			return nil, err
		}
	}

	if i.isTTY {
		i.tty = fs.acquireTTY(uint64(st.Rdev), termios[:])
	}

	d := fs.vfsfs.NewDisconnectedDentry(i, i.name())
	vd := vfs.MakeVirtualDentry(fs.mnt, d)
	impl := &fileDescription{inode: i}
	fd := &vfs.FileDescription{}
	// Character devices other than terminals are not streams: Linux's
	// memory devices accept offsets and seeks and ignore them.
	fd.Init(impl, flags, vd, &vfs.FileDescriptionOptions{Stream: ftype == linux.S_IFIFO || ftype == linux.S_IFSOCK || i.isTTY})
	impl.vfsfd = fd
	if i.tty != nil {
		i.tty.addFile(impl)
	}
	if ftype == linux.S_IFREG {
		// The host open file's offset is shared with whoever gave it to
		// us (a shell redirecting to a file): start where it stands.
		if off, err := unix.Seek(hostFD, 0, unix.SEEK_CUR); err == nil && off > 0 {
			fd.Seek(ctx, off, linux.SEEK_SET)
		}
	}
	return fd, nil
}

// name is what /proc/self/fd shows for the file. The host path is not
// known (and not the sandbox's business), so it follows the anonymous
// file conventions.
func (i *inode) name() string {
	switch i.ftype {
	case linux.S_IFIFO:
		return fmt.Sprintf("pipe:[%d]", i.ino)
	case linux.S_IFSOCK:
		return fmt.Sprintf("socket:[%d]", i.ino)
	}
	return fmt.Sprintf("host:[%d]", i.ino)
}

// release gives the host descriptor back: no more notifications, the
// host flags as they were if it was the last user of the host file,
// closed.
func (i *inode) release() {
	if i.pollable {
		i.notifier.RemoveFD(i.hostFD)
	}
	i.releaseHostFile()
	if i.tty != nil {
		i.tty.removeFile(i)
		i.fs.releaseTTY(i.tty)
	}
	_ = unix.Close(int(i.hostFD))
}

// Type implements vfs.Inode.
func (i *inode) Type() linux.FileMode { return i.ftype }

// CheckPermission implements vfs.Inode with the host file's current mode
// and owner.
func (i *inode) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	var st unix.Stat_t
	if err := fstat(int(i.hostFD), &st); err != nil {
		return err
	}
	return auth.CheckPermission(creds, linux.FileMode(st.Mode), auth.KUID(st.Uid), auth.KGID(st.Gid), ats)
}

// Stat implements vfs.Inode: type, mode, owner, link count, size,
// blocks and times are the host's; the inode number and device are the
// sandbox's own, stable for the life of the file.
func (i *inode) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	var st unix.Stat_t
	if err := fstat(int(i.hostFD), &st); err != nil {
		return linux.Statx{}, err
	}
	sx := linux.Statx{
		Mask:     linux.STATX_BASIC_STATS,
		Blksize:  uint32(st.Blksize),
		Nlink:    uint32(st.Nlink),
		UID:      st.Uid,
		GID:      st.Gid,
		Mode:     uint16(st.Mode),
		Ino:      i.ino,
		Blocks:   uint64(st.Blocks),
		Atime:    linux.StatxTimestamp{Sec: st.Atim.Sec, Nsec: uint32(st.Atim.Nsec)},
		Mtime:    linux.StatxTimestamp{Sec: st.Mtim.Sec, Nsec: uint32(st.Mtim.Nsec)},
		Ctime:    linux.StatxTimestamp{Sec: st.Ctim.Sec, Nsec: uint32(st.Ctim.Nsec)},
		DevMinor: i.fs.devMinor,
	}
	if i.ftype == linux.S_IFREG {
		sx.Size = uint64(st.Size)
	}
	if i.ftype == linux.S_IFCHR {
		sx.RdevMajor, sx.RdevMinor = unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))
	}
	return sx, nil
}

// SetStat implements vfs.Inode. Size, mode and times are applied to the
// host file; its owner is the host's and cannot be changed from the
// sandbox (EPERM).
func (i *inode) SetStat(_ context.Context, creds *auth.Credentials, opts vfs.SetStatOptions) error {
	if opts.Mask&(linux.STATX_UID|linux.STATX_GID) != 0 {
		return linux.EPERM
	}
	var st unix.Stat_t
	if err := fstat(int(i.hostFD), &st); err != nil {
		return err
	}
	cur := vfs.FileAttr{Mode: linux.FileMode(st.Mode), UID: auth.KUID(st.Uid), GID: auth.KGID(st.Gid)}
	if err := vfs.PrepareSetStat(creds, &opts, cur); err != nil {
		return err
	}
	if opts.Mask&linux.STATX_SIZE != 0 {
		if i.ftype != linux.S_IFREG {
			return linux.EINVAL
		}
		if err := retryEINTR(func() error { return unix.Ftruncate(int(i.hostFD), int64(opts.Size)) }); err != nil {
			return hostErr(err)
		}
	}
	if opts.Mask&linux.STATX_MODE != 0 {
		if err := unix.Fchmod(int(i.hostFD), uint32(opts.Mode)&linux.PermissionsMask); err != nil {
			return hostErr(err)
		}
	}
	if opts.Mask&(linux.STATX_ATIME|linux.STATX_MTIME) != 0 {
		ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if opts.Mask&linux.STATX_ATIME != 0 {
			ts[0] = unix.Timespec{Sec: opts.Atime.Sec, Nsec: opts.Atime.Nsec}
		}
		if opts.Mask&linux.STATX_MTIME != 0 {
			ts[1] = unix.Timespec{Sec: opts.Mtime.Sec, Nsec: opts.Mtime.Nsec}
		}
		if err := futimens(int(i.hostFD), &ts); err != nil {
			return err
		}
	}
	return nil
}

// Open implements vfs.Inode. Reopening through /proc/self/fd would need
// a new host open file, which only a host path gives, and the Sentry
// opens no host paths.
func (i *inode) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ENXIO
}
