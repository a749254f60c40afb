package overlay

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// copyChunk is how much file data copy-up moves per read and write.
const copyChunk = 64 << 10

// copyUp gives i an upper inode, copying the lower file (and, first, any
// ancestor that has none) into the upper layer. For a regular file, limit
// >= 0 copies only the first limit bytes (the caller is truncating). It
// returns at once if i already has an upper inode, and waits for a
// concurrent copy-up of i rather than repeating it.
func (i *inode) copyUp(ctx context.Context, limit int64) error {
	if i.hasUpper.Load() {
		return nil
	}
	i.copyMu.Lock()
	defer i.copyMu.Unlock()
	if i.hasUpper.Load() {
		return nil
	}
	i.mu.RLock()
	parent, name, removed := i.parent, i.name, i.removed
	i.mu.RUnlock()
	if removed || parent == nil {
		// The root always has an upper inode; an unlinked lower file
		// has no name to be copied up to.
		return linux.ENOENT
	}
	if err := parent.copyUp(ctx, -1); err != nil {
		return err
	}
	parent.dirMu.Lock()
	defer parent.dirMu.Unlock()
	// Removing i's name takes parent.dirMu, so this is final.
	i.mu.RLock()
	removed = i.removed
	i.mu.RUnlock()
	if removed {
		return linux.ENOENT
	}
	u, err := i.fs.copyUpInto(ctx, parent.upperDir(), name, i.lower, limit)
	if err != nil {
		return err
	}
	i.mu.Lock()
	i.upper = u
	i.mu.Unlock()
	i.hasUpper.Store(true)
	i.fs.copyUps.Add(1)
	return nil
}

// copyUpInto creates name in the upper directory dir as a copy of lower
// and returns it. The caller holds dir's overlay dirMu. On failure
// nothing is left behind.
func (fs *filesystem) copyUpInto(ctx context.Context, dir vfs.DirectoryInode, name string, lower vfs.Inode, limit int64) (vfs.Inode, error) {
	cctx := fs.copyCtx(ctx)
	st, err := lower.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if err != nil {
		return nil, err
	}
	pst, err := dir.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_ATIME | linux.STATX_MTIME})
	if err != nil {
		return nil, err
	}
	typ := lower.Type()
	// Permissions are set last, once the owner is: a set-user-ID bit
	// would not survive the chown otherwise.
	opts := vfs.CreateOptions{Mode: typ | 0600}
	switch typ {
	case linux.S_IFDIR:
		opts.Mode = typ | 0700
	case linux.S_IFLNK:
		sl, ok := lower.(vfs.SymlinkInode)
		if !ok {
			return nil, linux.EIO
		}
		if opts.Target, err = sl.Readlink(ctx); err != nil {
			return nil, err
		}
		opts.Mode = typ | 0777
	case linux.S_IFCHR, linux.S_IFBLK:
		opts.DevMajor, opts.DevMinor = st.RdevMajor, st.RdevMinor
	}
	u, err := dir.Create(cctx, fs.creds, name, opts)
	if err != nil {
		return nil, err
	}
	if err := fs.fillCopy(cctx, u, lower, st, limit); err != nil {
		if typ == linux.S_IFDIR {
			dir.Rmdir(cctx, name, u)
		} else {
			dir.Unlink(cctx, name, u)
		}
		return nil, err
	}
	// Adding an entry changed the directory's times, which Linux's
	// overlayfs puts back so that copy-up stays invisible.
	dir.SetStat(cctx, fs.creds, vfs.SetStatOptions{
		Mask:  linux.STATX_ATIME | linux.STATX_MTIME,
		Atime: linux.Timespec{Sec: pst.Atime.Sec, Nsec: int64(pst.Atime.Nsec)},
		Mtime: linux.Timespec{Sec: pst.Mtime.Sec, Nsec: int64(pst.Mtime.Nsec)},
	})
	return u, nil
}

// fillCopy gives the new upper inode u the data and attributes of lower,
// whose attributes are st, and records where it came from.
func (fs *filesystem) fillCopy(cctx context.Context, u, lower vfs.Inode, st linux.Statx, limit int64) error {
	if u.Type() == linux.S_IFREG {
		if err := fs.copyData(cctx, u, lower, int64(st.Size), limit); err != nil {
			return err
		}
	}
	if err := fs.copyAttrs(cctx, u, st); err != nil {
		return err
	}
	uino, err := inoOf(cctx, u)
	if err != nil {
		return err
	}
	fs.setOrigin(uino, st.Ino)
	return nil
}

// copyData copies the regular file lower (size bytes) to u, up to limit
// bytes if limit >= 0. Runs of zeros are left as holes.
func (fs *filesystem) copyData(ctx context.Context, u, lower vfs.Inode, size, limit int64) error {
	if limit >= 0 && limit < size {
		size = limit
	}
	if size == 0 {
		return nil
	}
	lfd, err := lower.Open(ctx, fs.layerVD(false, lower), vfs.OpenOptions{Flags: linux.O_RDONLY})
	if err != nil {
		return err
	}
	defer lfd.DecRef(ctx)
	ufd, err := u.Open(ctx, fs.layerVD(true, u), vfs.OpenOptions{Flags: linux.O_WRONLY})
	if err != nil {
		return err
	}
	defer ufd.DecRef(ctx)
	buf := make([]byte, copyChunk)
	var off, written int64
	for off < size {
		want := min(int64(len(buf)), size-off)
		n, err := lfd.PRead(ctx, vfs.BytesIOSequence(buf[:want]), off, vfs.ReadOptions{})
		if n > 0 && !allZero(buf[:n]) {
			if err := writeFull(ctx, ufd, buf[:n], off); err != nil {
				return err
			}
			written = off + n
		}
		off += n
		if err != nil {
			return err
		}
		if n == 0 {
			// The lower file shrank under us: copy what there is.
			size = off
			break
		}
	}
	if written < size {
		// Trailing zeros were skipped; the size still covers them.
		return u.SetStat(ctx, fs.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: uint64(size)})
	}
	return nil
}

func writeFull(ctx context.Context, fd *vfs.FileDescription, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := fd.PWrite(ctx, vfs.BytesIOSequence(b), off, vfs.WriteOptions{})
		if err != nil {
			return err
		}
		if n == 0 {
			return linux.EIO
		}
		b, off = b[n:], off+n
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// copyAttrs gives the upper inode u the owner, permissions and times in
// st. The owner goes first, since changing it clears set-ID bits.
func (fs *filesystem) copyAttrs(ctx context.Context, u vfs.Inode, st linux.Statx) error {
	cctx := fs.copyCtx(ctx)
	if err := u.SetStat(cctx, fs.creds, vfs.SetStatOptions{
		Mask: linux.STATX_UID | linux.STATX_GID, UID: auth.KUID(st.UID), GID: auth.KGID(st.GID),
	}); err != nil {
		return err
	}
	if u.Type() != linux.S_IFLNK {
		if err := u.SetStat(cctx, fs.creds, vfs.SetStatOptions{
			Mask: linux.STATX_MODE, Mode: st.Mode & linux.PermissionsMask,
		}); err != nil {
			return err
		}
	}
	return u.SetStat(cctx, fs.creds, vfs.SetStatOptions{
		Mask:  linux.STATX_ATIME | linux.STATX_MTIME,
		Atime: linux.Timespec{Sec: st.Atime.Sec, Nsec: int64(st.Atime.Nsec)},
		Mtime: linux.Timespec{Sec: st.Mtime.Sec, Nsec: int64(st.Mtime.Nsec)},
	})
}
