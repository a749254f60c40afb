package vfs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// Socket inodes: as on Linux's sockfs, every socket has an inode of its
// own on a path-less filesystem. fstat shows S_IFSOCK|0777, the
// creator's ids and the socket's inode number; /proc/self/fd shows
// "socket:[ino]"; and the same number is what /proc/net/* and
// sock_diag report, which is how ss -p and lsof match descriptors to
// sockets. Reopening one through /proc/self/fd fails with ENXIO.

// lastSocketIno numbers socket inodes across every family.
var lastSocketIno atomic.Uint64

// NextSocketIno returns a fresh socket inode number, for a socket that
// needs its number before its file (NewSocketVirtualDentry).
func NextSocketIno() uint64 { return lastSocketIno.Add(1) }

// sockFS is the sockfs instance of one VirtualFilesystem.
//
// +stateify savable
type sockFS struct {
	vfsfs    *Filesystem
	mnt      *Mount
	devMinor uint32
}

// sockFSesMu guards sockFSes; an instance is made on first use.
var (
	sockFSesMu sync.Mutex
	sockFSes   = map[*VirtualFilesystem]*sockFS{}
)

func (vfs *VirtualFilesystem) sockFS() *sockFS {
	sockFSesMu.Lock()
	defer sockFSesMu.Unlock()
	if fs, ok := sockFSes[vfs]; ok {
		return fs
	}
	fs := &sockFS{vfsfs: &Filesystem{}, devMinor: vfs.GetAnonBlockDevMinor()}
	fs.vfsfs.Init(vfs, sockFSType{}, fs)
	fs.mnt = vfs.NewDisconnectedMount(fs.vfsfs, fs.vfsfs.NewRootDentry(&sockInode{fs: fs, mode: linux.S_IFDIR | 0555}), 0)
	sockFSes[vfs] = fs
	return fs
}

// NewSocketVirtualDentry returns a path-less VirtualDentry for a new
// socket with inode number ino (0: a fresh one), owned by creds (nil:
// root), to pass to FileDescription.Init (which takes its own
// reference).
func (vfs *VirtualFilesystem) NewSocketVirtualDentry(ino uint64, creds *auth.Credentials) VirtualDentry {
	if ino == 0 {
		ino = NextSocketIno()
	}
	fs := vfs.sockFS()
	i := &sockInode{fs: fs, ino: ino, mode: linux.S_IFSOCK | 0777}
	if creds != nil {
		i.uid, i.gid = creds.EffectiveKUID, creds.EffectiveKGID
	}
	d := fs.vfsfs.NewDisconnectedDentry(i, fmt.Sprintf("socket:[%d]", ino))
	return MakeVirtualDentry(fs.mnt, d)
}

// StatFS implements FilesystemImpl.
func (fs *sockFS) StatFS(context.Context) (linux.Statfs, error) {
	return linux.Statfs{Type: linux.SOCKFS_MAGIC, BlockSize: linux.PageSize, NameLength: linux.NAME_MAX}, nil
}

// sockFSType cannot be mounted.
//
// +stateify savable
type sockFSType struct{}

// Name implements FilesystemType.
func (sockFSType) Name() string { return "sockfs" }

// GetFilesystem implements FilesystemType.
func (sockFSType) GetFilesystem(context.Context, *VirtualFilesystem, *auth.Credentials, string, GetFilesystemOptions) (*Filesystem, *Dentry, error) {
	return nil, nil, linux.EINVAL
}

// sockInode is one socket's inode.
//
// +stateify savable
type sockInode struct {
	fs   *sockFS
	ino  uint64
	mode linux.FileMode
	uid  auth.KUID
	gid  auth.KGID
}

// Type implements Inode.
func (i *sockInode) Type() linux.FileMode { return i.mode.FileType() }

// CheckPermission implements Inode.
func (i *sockInode) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	return auth.CheckPermission(creds, i.mode.Permissions(), i.uid, i.gid, ats)
}

// Stat implements Inode.
func (i *sockInode) Stat(_ context.Context, opts StatOptions) (linux.Statx, error) {
	return linux.Statx{
		Mask:     linux.STATX_BASIC_STATS,
		Blksize:  linux.PageSize,
		Nlink:    1,
		Mode:     uint16(i.mode),
		UID:      uint32(i.uid),
		GID:      uint32(i.gid),
		Ino:      i.ino,
		DevMinor: i.fs.devMinor,
	}, nil
}

// SetStat implements Inode: changing a socket inode's mode or owner is
// not supported here (Linux allows it, with no effect on the socket).
func (*sockInode) SetStat(context.Context, *auth.Credentials, SetStatOptions) error {
	return linux.EOPNOTSUPP
}

// Open implements Inode: /proc/self/fd/N of a socket cannot be reopened.
func (*sockInode) Open(context.Context, VirtualDentry, OpenOptions) (*FileDescription, error) {
	return nil, linux.ENXIO
}
