package host

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// filesystem is the internal filesystem that host files' inodes belong
// to. It has no paths: each file hangs off a disconnected dentry, named
// as /proc/self/fd shows it. Its anonymous device number is the stable
// st_dev every host file reports.
//
// +stateify savable
type filesystem struct {
	vfsfs    vfs.Filesystem
	mnt      *vfs.Mount
	devMinor uint32
	nextIno  atomic.Uint64

	// ttysMu guards ttys, the state of each terminal (by host device
	// number) that has wrapped descriptors.
	ttysMu sync.Mutex // +state:nosave
	ttys   map[uint64]*ttyState
}

// +stateify savable
type fsType struct{}

// Name implements vfs.FilesystemType.
func (fsType) Name() string { return "host" }

// GetFilesystem implements vfs.FilesystemType: host files are made by
// NewFD, never mounted.
func (fsType) GetFilesystem(context.Context, *vfs.VirtualFilesystem, *auth.Credentials, string, vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	return nil, nil, linux.EINVAL
}

// StatFS implements vfs.FilesystemImpl. Linux has no filesystem behind a
// donated descriptor either; this mirrors what anonymous inodes report.
func (fs *filesystem) StatFS(context.Context) (linux.Statfs, error) {
	return linux.Statfs{Type: linux.ANON_INODE_FS_MAGIC, BlockSize: linux.PageSize, NameLength: linux.NAME_MAX}, nil
}

var (
	// filesystemsMu guards filesystems, the host filesystem of each
	// VirtualFilesystem (one per sandbox kernel; tests make several).
	filesystemsMu sync.Mutex
	filesystems   = map[*vfs.VirtualFilesystem]*filesystem{}
)

// getFilesystem returns vfsObj's host filesystem, making it on first use.
func getFilesystem(vfsObj *vfs.VirtualFilesystem) *filesystem {
	filesystemsMu.Lock()
	defer filesystemsMu.Unlock()
	if fs, ok := filesystems[vfsObj]; ok {
		return fs
	}
	fs := &filesystem{devMinor: vfsObj.GetAnonBlockDevMinor()}
	fs.vfsfs.Init(vfsObj, fsType{}, fs)
	root := fs.vfsfs.NewRootDentry(&rootInode{ino: fs.nextIno.Add(1), devMinor: fs.devMinor, ctime: time.Now().UnixNano()})
	fs.mnt = vfsObj.NewDisconnectedMount(&fs.vfsfs, root, 0)
	filesystems[vfsObj] = fs
	return fs
}

// rootInode is the root of the host filesystem's (empty, unreachable)
// tree; it exists because every mount needs a root.
//
// +stateify savable
type rootInode struct {
	ino      uint64
	devMinor uint32
	ctime    int64
}

// Type implements vfs.Inode.
func (*rootInode) Type() linux.FileMode { return linux.S_IFDIR }

// CheckPermission implements vfs.Inode.
func (*rootInode) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	return auth.CheckPermission(creds, linux.S_IFDIR|0500, auth.RootKUID, auth.RootKGID, ats)
}

// Stat implements vfs.Inode.
func (r *rootInode) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	t := nsToStatx(r.ctime)
	return linux.Statx{
		Mask: linux.STATX_BASIC_STATS, Blksize: linux.PageSize, Nlink: 2,
		Mode: linux.S_IFDIR | 0500, Ino: r.ino, DevMinor: r.devMinor,
		Atime: t, Mtime: t, Ctime: t,
	}, nil
}

// SetStat implements vfs.Inode.
func (*rootInode) SetStat(context.Context, *auth.Credentials, vfs.SetStatOptions) error {
	return linux.EPERM
}

// Open implements vfs.Inode.
func (*rootInode) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ENXIO
}

func nsToStatx(ns int64) linux.StatxTimestamp {
	return linux.StatxTimestamp{Sec: ns / 1e9, Nsec: uint32(ns % 1e9)}
}
