package attrtree

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Symlink is a link within the tree, such as /sys/class/net/lo.
type Symlink struct {
	attrs
	target string
}

// NewSymlink returns a link to target.
func (t *Tree) NewSymlink(target string) *Symlink {
	return &Symlink{attrs: t.newAttrs(linux.S_IFLNK | 0o777), target: target}
}

// Readlink implements vfs.SymlinkInode.
func (s *Symlink) Readlink(context.Context) (string, error) { return s.target, nil }

// Open implements vfs.Inode; the VFS opens symlinks only with O_PATH,
// which it handles itself.
func (s *Symlink) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ELOOP
}
