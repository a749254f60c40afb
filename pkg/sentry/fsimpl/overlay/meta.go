package overlay

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// upperMeta is what Linux's overlayfs stores in trusted.overlay.* xattrs
// of an upper file. The upper layer (tmpfs) has no xattrs, and it lives
// exactly as long as the overlay, so the overlay keeps these in memory,
// keyed by upper inode number (unique within the upper layer while the
// file exists; entries are dropped when the upper file goes).
type upperMeta struct {
	// origin is the inode number of the lower file this one was copied
	// up from, or 0 (trusted.overlay.origin).
	origin uint64
	// opaque marks a directory whose lower counterpart, if any, is
	// hidden (trusted.overlay.opaque).
	opaque bool
}

// upperInoBit tags the inode numbers of files that exist only in the
// upper layer, so that they do not collide with lower ones.
const upperInoBit = 1 << 63

func (fs *filesystem) setOrigin(upperIno, lowerIno uint64) {
	fs.metaMu.Lock()
	m := fs.meta[upperIno]
	m.origin = lowerIno
	fs.meta[upperIno] = m
	fs.metaMu.Unlock()
}

func (fs *filesystem) setOpaque(upperIno uint64) {
	fs.metaMu.Lock()
	m := fs.meta[upperIno]
	m.opaque = true
	fs.meta[upperIno] = m
	fs.metaMu.Unlock()
}

func (fs *filesystem) isOpaque(upperIno uint64) bool {
	fs.metaMu.Lock()
	defer fs.metaMu.Unlock()
	return fs.meta[upperIno].opaque
}

// forget drops the metadata of an upper file that no longer exists.
func (fs *filesystem) forget(upperIno uint64) {
	fs.metaMu.Lock()
	delete(fs.meta, upperIno)
	fs.metaMu.Unlock()
}

// inoFromUpper is the overlay inode number of a file found in the upper
// layer with inode number upperIno and no lower counterpart.
func (fs *filesystem) inoFromUpper(upperIno uint64) uint64 {
	fs.metaMu.Lock()
	origin := fs.meta[upperIno].origin
	fs.metaMu.Unlock()
	if origin != 0 {
		return origin
	}
	return upperIno | upperInoBit
}

// forgetIfGone drops the metadata of upper inode u (inode number ino)
// once it has no links left.
func (fs *filesystem) forgetIfGone(ctx context.Context, u vfs.Inode, ino uint64) {
	if u.Type() != linux.S_IFDIR {
		st, err := u.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_NLINK})
		if err == nil && st.Nlink != 0 {
			return
		}
	}
	fs.forget(ino)
}

// inoOf returns a layer inode's inode number.
func inoOf(ctx context.Context, i vfs.Inode) (uint64, error) {
	st, err := i.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_INO})
	return st.Ino, err
}

// isWhiteout reports whether the upper-layer inode i is a whiteout.
func isWhiteout(ctx context.Context, i vfs.Inode) (bool, error) {
	if i.Type() != linux.S_IFCHR {
		return false, nil
	}
	st, err := i.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_TYPE})
	if err != nil {
		return false, err
	}
	return st.RdevMajor == 0 && st.RdevMinor == 0, nil
}
