package gofer

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/pipe"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// symlink is a host symbolic link. The VFS follows it, so a target is
// resolved against the sandbox's root and mounts, never the host's.
type symlink struct {
	inode

	// targetMu guards target and known; a link's target never
	// changes, so it is read from the gofer once.
	targetMu sync.Mutex
	target   string
	known    bool
}

// Readlink implements vfs.SymlinkInode.
func (s *symlink) Readlink(context.Context) (string, error) {
	s.targetMu.Lock()
	defer s.targetMu.Unlock()
	if !s.known {
		t, err := s.fs.client.Readlink(s.fdid)
		if err != nil {
			return "", toErrno(err)
		}
		s.target, s.known = t, true
	}
	return s.target, nil
}

// Open implements vfs.Inode; the VFS never opens a symlink itself.
func (s *symlink) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ELOOP
}

// fifo is a named pipe on the host, which is a Sentry pipe here: every
// open of the inode joins the same one. Nothing flows through the host.
type fifo struct {
	inode

	// pipeMu guards p, made on first open.
	pipeMu sync.Mutex
	p      *pipe.Pipe
}

// Open implements vfs.Inode.
func (f *fifo) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	f.pipeMu.Lock()
	if f.p == nil {
		f.p = pipe.NewPipe(true)
	}
	p := f.p
	f.pipeMu.Unlock()
	return p.Open(ctx, vd, opts.Flags, true)
}

// special is a device node or a socket file.
type special struct {
	inode
}

// Open implements vfs.Inode: a device node opens the Sentry's driver for
// its number (ENXIO if there is none), never the host device; a socket
// file cannot be opened.
func (s *special) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	kind := vfs.CharDevice
	switch s.typ {
	case linux.S_IFCHR:
	case linux.S_IFBLK:
		kind = vfs.BlockDevice
	default:
		return nil, linux.ENXIO
	}
	s.mu.Lock()
	major, minor := s.attr.RdevMajor, s.attr.RdevMinor
	s.mu.Unlock()
	return s.fs.vfsfs.VirtualFilesystem().OpenDeviceSpecialFile(ctx, vd, kind, major, minor, opts)
}
