package tmpfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/pipe"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// symlink is a tmpfs symbolic link.
//
// +stateify savable
type symlink struct {
	inode
	target string
}

func (fs *filesystem) newSymlink(uid auth.KUID, gid auth.KGID, target string) *symlink {
	s := &symlink{target: target}
	fs.initInode(&s.inode, s, linux.S_IFLNK, uid, gid, 0777)
	return s
}

func (s *symlink) sizeLocked() (uint64, uint64) { return uint64(len(s.target)), 0 }

// Readlink implements vfs.SymlinkInode.
func (s *symlink) Readlink(context.Context) (string, error) { return s.target, nil }

// Open implements vfs.Inode; the VFS never opens a symlink itself.
func (s *symlink) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ELOOP
}

// fifo is a named pipe. Every open goes to the same pipe.
//
// +stateify savable
type fifo struct {
	inode
	pipe *pipe.Pipe
}

func (f *fifo) sizeLocked() (uint64, uint64) { return 0, 0 }

// Open implements vfs.Inode.
func (f *fifo) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	return f.pipe.Open(ctx, vd, opts.Flags, true)
}

// special is a device node or a socket node.
//
// +stateify savable
type special struct {
	inode
}

func (s *special) sizeLocked() (uint64, uint64) { return 0, 0 }

// Open implements vfs.Inode: device nodes open the registered driver;
// socket nodes cannot be opened (ENXIO), only connected to.
func (s *special) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	kind := vfs.CharDevice
	switch s.typ {
	case linux.S_IFCHR:
	case linux.S_IFBLK:
		kind = vfs.BlockDevice
	default:
		return nil, linux.ENXIO
	}
	return s.fs.VirtualFilesystem().OpenDeviceSpecialFile(ctx, vd, kind, s.rdevMajor, s.rdevMinor, opts)
}
