package vfs

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// Anonymous inodes: the one inode that epoll, eventfd, timerfd and
// signalfd files share, as Linux's anon_inode_getfile gives them. Each such
// file gets its own disconnected dentry named "anon_inode:[kind]", which
// is what /proc/self/fd shows; fstat reports mode 0600 with no file type
// bits, the shared inode number, and an anonymous device. The files live
// in this package, next to epoll, because they are event objects; no path
// reaches them, and reopening one through /proc/self/fd fails with ENXIO.

// anonInodeIno is the shared inode's number. Linux allocates it at boot,
// so any stable value will do.
const anonInodeIno = 1

// anonFS is the anon_inodefs instance of one VirtualFilesystem.
//
// +stateify savable
type anonFS struct {
	vfsfs    *Filesystem
	mnt      *Mount
	inode    *anonInode
	devMinor uint32
}

// anonFSesMu guards anonFSes. The instance is made on first use; a
// restored kernel makes a new one on its first use, which only changes
// st_dev of anonymous files made after the restore.
var (
	anonFSesMu sync.Mutex
	anonFSes   = map[*VirtualFilesystem]*anonFS{}
)

func (vfs *VirtualFilesystem) anonFS() *anonFS {
	anonFSesMu.Lock()
	defer anonFSesMu.Unlock()
	if fs, ok := anonFSes[vfs]; ok {
		return fs
	}
	fs := &anonFS{vfsfs: &Filesystem{}, devMinor: vfs.GetAnonBlockDevMinor()}
	fs.vfsfs.Init(vfs, anonFSType{}, fs)
	fs.inode = &anonInode{fs: fs}
	fs.mnt = vfs.NewDisconnectedMount(fs.vfsfs, fs.vfsfs.NewRootDentry(fs.inode), 0)
	anonFSes[vfs] = fs
	return fs
}

// NewAnonVirtualDentry returns a path-less VirtualDentry for a new
// anonymous file of the given kind ("eventpoll", "eventfd", ...), to pass
// to FileDescription.Init (which takes its own reference).
func (vfs *VirtualFilesystem) NewAnonVirtualDentry(kind string) VirtualDentry {
	fs := vfs.anonFS()
	d := fs.vfsfs.NewDisconnectedDentry(fs.inode, "anon_inode:["+kind+"]")
	return MakeVirtualDentry(fs.mnt, d)
}

// StatFS implements FilesystemImpl.
func (fs *anonFS) StatFS(context.Context) (linux.Statfs, error) {
	return linux.Statfs{Type: linux.ANON_INODE_FS_MAGIC, BlockSize: linux.PageSize, NameLength: linux.NAME_MAX}, nil
}

// anonFSType cannot be mounted.
//
// +stateify savable
type anonFSType struct{}

// Name implements FilesystemType.
func (anonFSType) Name() string { return "anon_inodefs" }

// GetFilesystem implements FilesystemType.
func (anonFSType) GetFilesystem(context.Context, *VirtualFilesystem, *auth.Credentials, string, GetFilesystemOptions) (*Filesystem, *Dentry, error) {
	return nil, nil, linux.EINVAL
}

// anonInode is the shared anonymous inode. It is owned by root and has
// no file type, as on Linux.
//
// +stateify savable
type anonInode struct {
	fs *anonFS
}

// Type implements Inode: anonymous inodes have no S_IF* bits.
func (*anonInode) Type() linux.FileMode { return 0 }

// CheckPermission implements Inode.
func (i *anonInode) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	return auth.CheckPermission(creds, 0600, auth.RootKUID, auth.RootKGID, ats)
}

// Stat implements Inode.
func (i *anonInode) Stat(context.Context, StatOptions) (linux.Statx, error) {
	return linux.Statx{
		Mask:     linux.STATX_BASIC_STATS,
		Blksize:  linux.PageSize,
		Nlink:    1,
		Mode:     0600,
		Ino:      anonInodeIno,
		DevMinor: i.fs.devMinor,
	}, nil
}

// SetStat implements Inode: Linux's anonymous inode has no setattr, so
// fchmod and fchown fail.
func (*anonInode) SetStat(context.Context, *auth.Credentials, SetStatOptions) error {
	return linux.EOPNOTSUPP
}

// Open implements Inode: /proc/self/fd/N of an anonymous file cannot be
// reopened.
func (*anonInode) Open(context.Context, VirtualDentry, OpenOptions) (*FileDescription, error) {
	return nil, linux.ENXIO
}
