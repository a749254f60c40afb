package pipe

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// FS is pipefs: the internal filesystem that anonymous pipes' inodes
// belong to, so that fstat and /proc/self/fd can describe them.
//
// +stateify savable
type FS struct {
	vfsfs    *vfs.Filesystem
	mnt      *vfs.Mount
	devMinor uint32
	nextIno  atomic.Uint64
}

// +stateify savable
type pipefsType struct{}

func (pipefsType) Name() string { return "pipefs" }

func (pipefsType) GetFilesystem(context.Context, *vfs.VirtualFilesystem, *auth.Credentials, string, vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	return nil, nil, linux.EINVAL
}

// NewFS returns a pipefs instance for vfsObj. The kernel makes one and
// uses it for every pipe(2).
func NewFS(vfsObj *vfs.VirtualFilesystem) *FS {
	fs := &FS{vfsfs: &vfs.Filesystem{}, devMinor: vfsObj.GetAnonBlockDevMinor()}
	fs.vfsfs.Init(vfsObj, pipefsType{}, fs)
	root := fs.vfsfs.NewRootDentry(fs.newInode(auth.NewRootCredentials(auth.NewRootUserNamespace()), nil))
	fs.mnt = vfsObj.NewDisconnectedMount(fs.vfsfs, root, 0)
	return fs
}

// StatFS implements vfs.FilesystemImpl.
func (fs *FS) StatFS(context.Context) (linux.Statfs, error) {
	return linux.Statfs{Type: linux.PIPEFS_MAGIC, BlockSize: linux.PageSize, NameLength: linux.NAME_MAX}, nil
}

// NewConnectedFDs implements pipe2(2): a new pipe and its read and write
// ends. flags may hold O_NONBLOCK (and O_CLOEXEC, O_DIRECT, which are the
// caller's); the ends are O_RDONLY and O_WRONLY.
func (fs *FS) NewConnectedFDs(ctx context.Context, creds *auth.Credentials, flags uint32) (r, w *vfs.FileDescription, err error) {
	p := NewPipe(false)
	ino := fs.newInode(creds, p)
	d := fs.vfsfs.NewDisconnectedDentry(ino, fmt.Sprintf("pipe:[%d]", ino.ino))
	vd := vfs.MakeVirtualDentry(fs.mnt, d)
	flags &= linux.O_NONBLOCK | linux.O_DIRECT
	// Open both ends non-blocking so that neither waits for its
	// partner, then give them the blocking mode asked for.
	if r, err = p.Open(ctx, vd, flags|linux.O_RDONLY|linux.O_NONBLOCK, false); err != nil {
		return nil, nil, err
	}
	if w, err = p.Open(ctx, vd, flags|linux.O_WRONLY|linux.O_NONBLOCK, false); err != nil {
		r.DecRef(ctx)
		return nil, nil, err
	}
	if flags&linux.O_NONBLOCK == 0 {
		for _, f := range []*vfs.FileDescription{r, w} {
			if err := f.SetStatusFlags(ctx, creds, f.StatusFlags()&^linux.O_NONBLOCK); err != nil {
				r.DecRef(ctx)
				w.DecRef(ctx)
				return nil, nil, err
			}
		}
	}
	return r, w, nil
}

// inode is a pipefs inode: a pipe with owner and times.
//
// +stateify savable
type inode struct {
	fs   *FS
	ino  uint64
	pipe *Pipe

	// mu guards the attributes.
	mu           sync.Mutex // +state:nosave
	mode         linux.FileMode
	uid          auth.KUID
	gid          auth.KGID
	atime, mtime int64
	ctime        int64
}

func (fs *FS) newInode(creds *auth.Credentials, p *Pipe) *inode {
	now := time.Now().UnixNano()
	mode := linux.FileMode(linux.S_IFIFO | 0600)
	if p == nil {
		mode = linux.S_IFDIR | 0500
	}
	return &inode{fs: fs, ino: fs.nextIno.Add(1), pipe: p, mode: mode,
		uid: creds.FSKUID, gid: creds.FSKGID, atime: now, mtime: now, ctime: now}
}

func (i *inode) Type() linux.FileMode { return i.mode.FileType() }

func (i *inode) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return auth.CheckPermission(creds, i.mode, i.uid, i.gid, ats)
}

func ts(ns int64) linux.StatxTimestamp {
	return linux.StatxTimestamp{Sec: ns / 1e9, Nsec: uint32(ns % 1e9)}
}

func (i *inode) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return linux.Statx{
		Mask:     linux.STATX_BASIC_STATS,
		Blksize:  linux.PageSize,
		Nlink:    1,
		UID:      uint32(i.uid),
		GID:      uint32(i.gid),
		Mode:     uint16(i.mode),
		Ino:      i.ino,
		Atime:    ts(i.atime),
		Mtime:    ts(i.mtime),
		Ctime:    ts(i.ctime),
		DevMinor: i.fs.devMinor,
	}, nil
}

func (i *inode) SetStat(_ context.Context, creds *auth.Credentials, opts vfs.SetStatOptions) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if opts.Mask&linux.STATX_SIZE != 0 {
		return linux.EINVAL
	}
	if err := vfs.PrepareSetStat(creds, &opts, vfs.FileAttr{Mode: i.mode, UID: i.uid, GID: i.gid}); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	if opts.Mask&linux.STATX_MODE != 0 {
		i.mode = i.mode.FileType() | linux.FileMode(opts.Mode)&linux.PermissionsMask
	}
	if opts.Mask&linux.STATX_UID != 0 {
		i.uid = opts.UID
	}
	if opts.Mask&linux.STATX_GID != 0 {
		i.gid = opts.GID
	}
	if opts.Mask&linux.STATX_ATIME != 0 {
		i.atime = timeOrNow(opts.Atime, now)
	}
	if opts.Mask&linux.STATX_MTIME != 0 {
		i.mtime = timeOrNow(opts.Mtime, now)
	}
	i.ctime = now
	return nil
}

func timeOrNow(t linux.Timespec, now int64) int64 {
	if t.Nsec == linux.UTIME_NOW {
		return now
	}
	return t.ToNsec()
}

// Open reopens the pipe (open("/proc/self/fd/N")): see Pipe.Open.
func (i *inode) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	if i.pipe == nil {
		return nil, linux.ENXIO
	}
	return i.pipe.Open(ctx, vd, opts.Flags, false)
}
