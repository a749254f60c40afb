package overlay

import (
	"context"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// node is any overlay inode.
type node interface {
	vfs.Inode
	base() *inode
}

// inode is what every overlay file has: its layer inodes and its place,
// which copy-up needs to recreate it in the upper layer.
//
// Lock order: copyMu of a file before its ancestors' copyMu; any copyMu
// before a directory's dirMu; dirMu (of a parent before a child) before
// mu. The layers' own locks come last.
type inode struct {
	fs  *filesystem
	typ linux.FileMode
	// ino is the inode number stat reports (see the package doc).
	ino uint64
	// lower is the lower layer's inode, nil for a file that exists only
	// in the upper layer (and for an opaque directory). It never changes.
	lower vfs.Inode

	// copyMu serializes copy-up of this inode, so that it happens once.
	copyMu sync.Mutex

	// hasUpper is set, after upper, once the inode has an upper layer
	// inode; it lets hot paths skip mu.
	hasUpper atomic.Bool

	// mu guards the fields below.
	mu sync.RWMutex
	// upper is the upper layer's inode, nil until copy-up. Once set it
	// never changes.
	upper vfs.Inode
	// parent and name are where copy-up recreates the file; parent is
	// nil for the root. A file without an upper inode is never renamed
	// (rename copies it up first), so these are stable while copy-up
	// needs them.
	parent *directory
	name   string
	// removed is set when the name of a file without an upper inode is
	// removed: it can no longer be copied up.
	removed bool
}

func (i *inode) base() *inode { return i }

func (i *inode) init(fs *filesystem, typ linux.FileMode, ino uint64, upper, lower vfs.Inode, parent *directory, name string) {
	i.fs, i.typ, i.ino, i.upper, i.lower, i.parent, i.name = fs, typ, ino, upper, lower, parent, name
	i.hasUpper.Store(upper != nil)
}

// newNode returns an overlay inode for a file made of upper and lower
// (either may be nil, not both), called name in parent.
func (fs *filesystem) newNode(ctx context.Context, parent *directory, name string, upper, lower vfs.Inode) (node, error) {
	var typ linux.FileMode
	var ino uint64
	if lower != nil {
		typ = lower.Type()
		n, err := inoOf(ctx, lower)
		if err != nil {
			return nil, err
		}
		ino = n
	}
	if upper != nil {
		typ = upper.Type()
		if lower == nil {
			n, err := inoOf(ctx, upper)
			if err != nil {
				return nil, err
			}
			ino = fs.inoFromUpper(n)
		}
	}
	var n node
	switch typ {
	case linux.S_IFDIR:
		n = &directory{}
	case linux.S_IFREG:
		n = &regularFile{}
	case linux.S_IFLNK:
		n = &symlink{}
	default:
		n = &special{}
	}
	n.base().init(fs, typ, ino, upper, lower, parent, name)
	return n, nil
}

// getUpper returns the upper inode, or nil.
func (i *inode) getUpper() vfs.Inode {
	if !i.hasUpper.Load() {
		return nil
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.upper
}

// real returns the inode that answers for the file now: the upper one if
// there is one, else the lower one.
func (i *inode) real() (inode vfs.Inode, isUpper bool) {
	if u := i.getUpper(); u != nil {
		return u, true
	}
	return i.lower, false
}

// Type implements vfs.Inode.
func (i *inode) Type() linux.FileMode { return i.typ }

// CheckPermission implements vfs.Inode with the attributes the overlay
// shows: the upper file's, else the lower file's. The lower layer is not
// asked itself, since it may refuse writes (a read-only gofer mount) that
// the overlay allows.
func (i *inode) CheckPermission(ctx context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	if u := i.getUpper(); u != nil {
		return u.CheckPermission(ctx, creds, ats)
	}
	a, err := attrOf(ctx, i.lower)
	if err != nil {
		return err
	}
	return auth.CheckPermission(creds, a.Mode, a.UID, a.GID, ats)
}

func attrOf(ctx context.Context, li vfs.Inode) (vfs.FileAttr, error) {
	st, err := li.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_MODE | linux.STATX_UID | linux.STATX_GID})
	if err != nil {
		return vfs.FileAttr{}, err
	}
	return vfs.FileAttr{Mode: linux.FileMode(st.Mode), UID: auth.KUID(st.UID), GID: auth.KGID(st.GID)}, nil
}

// Stat implements vfs.Inode: the real file's attributes under the
// overlay's device and the inode's stable number.
func (i *inode) Stat(ctx context.Context, opts vfs.StatOptions) (linux.Statx, error) {
	r, isUpper := i.real()
	st, err := r.Stat(ctx, opts)
	if err != nil {
		return st, err
	}
	st.Ino = i.ino
	st.DevMajor, st.DevMinor = 0, i.fs.devMinor
	if i.typ == linux.S_IFDIR && isUpper && i.lower != nil {
		// The link count of a merged directory is not known without
		// listing both layers; Linux reports 1, which tools such as
		// find(1) read as "unknown".
		st.Nlink = 1
	}
	return st, nil
}

// SetStat implements vfs.Inode: attribute changes apply to the upper
// file, copied up first. Permission is checked before the copy-up, so a
// refused change copies nothing.
func (i *inode) SetStat(ctx context.Context, creds *auth.Credentials, opts vfs.SetStatOptions) error {
	if opts.Mask == 0 && !opts.CtimeOnly {
		return nil
	}
	if i.getUpper() == nil {
		a, err := attrOf(ctx, i.lower)
		if err != nil {
			return err
		}
		check := opts
		if err := vfs.PrepareSetStat(creds, &check, a); err != nil {
			return err
		}
		limit := int64(-1)
		if opts.Mask&linux.STATX_SIZE != 0 && opts.Size < 1<<62 {
			// Truncation: bytes past the new size need not be copied.
			limit = int64(opts.Size)
		}
		if err := i.copyUp(ctx, limit); err != nil {
			return err
		}
	}
	return i.getUpper().SetStat(ctx, creds, opts)
}

// symlink is an overlay symbolic link.
type symlink struct {
	inode
}

// Readlink implements vfs.SymlinkInode.
func (s *symlink) Readlink(ctx context.Context) (string, error) {
	r, _ := s.real()
	sl, ok := r.(vfs.SymlinkInode)
	if !ok {
		return "", linux.EINVAL
	}
	return sl.Readlink(ctx)
}

// Open implements vfs.Inode; the VFS never opens a symlink itself.
func (s *symlink) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ELOOP
}

// special is a FIFO, socket or device node.
type special struct {
	inode
}

// Open implements vfs.Inode. A FIFO is the real file's pipe and a device
// node opens the driver for its number, so the real inode opens it, with
// the overlay's path so that the description names the overlay file.
// Opening for writing copies nothing up: no data goes to the node.
func (s *special) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	r, _ := s.real()
	return r.Open(ctx, vd, opts)
}
