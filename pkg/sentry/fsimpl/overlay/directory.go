package overlay

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// directory is an overlay directory: upper only, lower only, or merged.
type directory struct {
	inode

	// dirMu serializes the overlay's changes to this directory's upper
	// entries: those the VFS asks for (which it also serializes) and
	// copy-up of children (which it does not). Listings hold it for
	// reading, so they never see a half-made entry.
	dirMu sync.RWMutex
}

func (d *directory) upperDir() vfs.DirectoryInode {
	u := d.getUpper()
	if u == nil {
		return nil
	}
	return u.(vfs.DirectoryInode)
}

func (d *directory) lowerDir() vfs.DirectoryInode {
	if d.lower == nil {
		return nil
	}
	return d.lower.(vfs.DirectoryInode)
}

// Lookup implements vfs.DirectoryInode: the upper entry wins, a whiteout
// hides the lower one, and an upper directory merges with a lower one of
// the same name unless it is opaque.
func (d *directory) Lookup(ctx context.Context, name string) (vfs.Inode, error) {
	var u vfs.Inode
	if up := d.upperDir(); up != nil {
		c, err := up.Lookup(ctx, name)
		switch err {
		case nil:
			wh, err := isWhiteout(ctx, c)
			if err != nil {
				return nil, err
			}
			if wh {
				return nil, linux.ENOENT
			}
			u = c
		case linux.ENOENT:
		default:
			return nil, err
		}
	}
	var l vfs.Inode
	if ld := d.lowerDir(); ld != nil && (u == nil || u.Type() == linux.S_IFDIR) {
		c, err := ld.Lookup(ctx, name)
		switch err {
		case nil:
			l = c
		case linux.ENOENT:
		default:
			return nil, err
		}
	}
	if u == nil && l == nil {
		return nil, linux.ENOENT
	}
	if u != nil && l != nil {
		uino, err := inoOf(ctx, u)
		if err != nil {
			return nil, err
		}
		if l.Type() != linux.S_IFDIR || d.fs.isOpaque(uino) {
			l = nil
		}
	}
	return d.fs.newNode(ctx, d, name, u, l)
}

// lowerHas reports whether the lower layer has name in d, so that
// removing it from the overlay needs a whiteout.
func (d *directory) lowerHas(ctx context.Context, name string) (bool, error) {
	ld := d.lowerDir()
	if ld == nil {
		return false, nil
	}
	switch _, err := ld.Lookup(ctx, name); err {
	case nil:
		return true, nil
	case linux.ENOENT:
		return false, nil
	default:
		return false, err
	}
}

// whiteoutAt returns the whiteout called name in the upper directory up,
// or nil.
func whiteoutAt(ctx context.Context, up vfs.DirectoryInode, name string) (vfs.Inode, error) {
	c, err := up.Lookup(ctx, name)
	if err == linux.ENOENT {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	wh, err := isWhiteout(ctx, c)
	if err != nil || !wh {
		return nil, err
	}
	return c, nil
}

// makeWhiteout creates a whiteout called name in the upper directory up.
func (fs *filesystem) makeWhiteout(ctx context.Context, up vfs.DirectoryInode, name string) error {
	_, err := up.Create(fs.copyCtx(ctx), fs.creds, name, vfs.CreateOptions{Mode: linux.S_IFCHR})
	return err
}

// prepareCreate copies d up and, with d.dirMu held for writing (which
// the caller releases), removes a whiteout called name, which it returns
// so that the caller can restore it if the creation fails.
func (d *directory) prepareCreate(ctx context.Context, name string) (up vfs.DirectoryInode, wh vfs.Inode, err error) {
	if err := d.copyUp(ctx, -1); err != nil {
		return nil, nil, err
	}
	d.dirMu.Lock()
	up = d.upperDir()
	wh, err = whiteoutAt(ctx, up, name)
	if err == nil && wh != nil {
		err = up.Unlink(d.fs.copyCtx(ctx), name, wh)
	}
	if err != nil {
		d.dirMu.Unlock()
		return nil, nil, err
	}
	return up, wh, nil
}

// Create implements vfs.DirectoryInode. A directory made where a whiteout
// was is opaque: what the lower layer has under that name stays hidden.
func (d *directory) Create(ctx context.Context, creds *auth.Credentials, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	if opts.Mode.FileType() == linux.S_IFCHR && opts.DevMajor == 0 && opts.DevMinor == 0 {
		// It would read back as a whiteout.
		return nil, linux.EPERM
	}
	up, wh, err := d.prepareCreate(ctx, name)
	if err != nil {
		return nil, err
	}
	defer d.dirMu.Unlock()
	u, err := up.Create(ctx, creds, name, opts)
	if err != nil {
		if wh != nil {
			d.fs.makeWhiteout(ctx, up, name)
		}
		return nil, err
	}
	if wh != nil && u.Type() == linux.S_IFDIR {
		uino, err := inoOf(ctx, u)
		if err != nil {
			return nil, err
		}
		d.fs.setOpaque(uino)
	}
	return d.fs.newNode(ctx, d, name, u, nil)
}

// Link implements vfs.DirectoryInode: the target is copied up and linked
// in the upper layer.
func (d *directory) Link(ctx context.Context, name string, target vfs.Inode) error {
	t, ok := target.(node)
	if !ok || t.base().fs != d.fs {
		return linux.EXDEV
	}
	tb := t.base()
	if err := tb.copyUp(ctx, -1); err != nil {
		return err
	}
	up, wh, err := d.prepareCreate(ctx, name)
	if err != nil {
		return err
	}
	defer d.dirMu.Unlock()
	if err := up.Link(ctx, name, tb.getUpper()); err != nil {
		if wh != nil {
			d.fs.makeWhiteout(ctx, up, name)
		}
		return err
	}
	return nil
}

// Unlink implements vfs.DirectoryInode: the upper file goes, and a
// whiteout hides the lower one.
func (d *directory) Unlink(ctx context.Context, name string, child vfs.Inode) error {
	c := child.(node).base()
	if err := d.copyUp(ctx, -1); err != nil {
		return err
	}
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	up := d.upperDir()
	need, err := d.lowerHas(ctx, name)
	if err != nil {
		return err
	}
	cu := c.getUpper()
	if cu != nil {
		uino, err := inoOf(ctx, cu)
		if err != nil {
			return err
		}
		if err := up.Unlink(ctx, name, cu); err != nil {
			return err
		}
		d.fs.forgetIfGone(ctx, cu, uino)
	}
	if need {
		if err := d.fs.makeWhiteout(ctx, up, name); err != nil {
			return err
		}
	}
	if cu == nil {
		c.mu.Lock()
		c.removed = true
		c.mu.Unlock()
	}
	return nil
}

// Rmdir implements vfs.DirectoryInode. The directory must be empty in the
// merged view; its upper part, holding only whiteouts then, is removed,
// and a whiteout hides the lower part.
func (d *directory) Rmdir(ctx context.Context, name string, child vfs.Inode) error {
	c := child.(*directory)
	if err := d.copyUp(ctx, -1); err != nil {
		return err
	}
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	c.dirMu.Lock()
	defer c.dirMu.Unlock()
	if err := c.clearLocked(ctx); err != nil {
		return err
	}
	up := d.upperDir()
	need, err := d.lowerHas(ctx, name)
	if err != nil {
		return err
	}
	if cu := c.upperDir(); cu != nil {
		uino, err := inoOf(ctx, cu)
		if err != nil {
			return err
		}
		if err := up.Rmdir(ctx, name, cu); err != nil {
			return err
		}
		d.fs.forget(uino)
	}
	if need {
		if err := d.fs.makeWhiteout(ctx, up, name); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.removed = true
	c.mu.Unlock()
	return nil
}

// clearLocked fails with ENOTEMPTY unless d is empty in the merged view,
// and then removes the whiteouts from its upper part so that the layer
// can remove it. d.dirMu must be held for writing.
func (d *directory) clearLocked(ctx context.Context) error {
	ents, err := d.mergedLocked(ctx)
	if err != nil {
		return err
	}
	if len(ents) != 0 {
		return linux.ENOTEMPTY
	}
	up := d.upperDir()
	if up == nil {
		return nil
	}
	names, err := listNames(ctx, up)
	if err != nil {
		return err
	}
	for _, n := range names {
		wh, err := whiteoutAt(ctx, up, n)
		if err != nil {
			return err
		}
		if wh == nil {
			return linux.ENOTEMPTY
		}
		if err := up.Unlink(d.fs.copyCtx(ctx), n, wh); err != nil {
			return err
		}
	}
	return nil
}

// Rename implements vfs.DirectoryInode. Files are copied up and moved in
// the upper layer, with a whiteout left at the old name if the lower
// layer has it. A directory that exists in the lower layer cannot move
// (EXDEV); one that exists only in the upper layer moves and becomes
// opaque, so that nothing of the lower layer at its new name shows
// through.
func (d *directory) Rename(ctx context.Context, oldName string, child vfs.Inode, newDir vfs.DirectoryInode, newName string, replaced vfs.Inode, flags uint32) error {
	nd, ok := newDir.(*directory)
	if !ok || nd.fs != d.fs {
		return linux.EXDEV
	}
	c := child.(node).base()
	var r *inode
	if replaced != nil {
		r = replaced.(node).base()
	}
	exchange := flags&linux.RENAME_EXCHANGE != 0
	if c.typ == linux.S_IFDIR && c.lower != nil {
		return linux.EXDEV
	}
	if exchange && r.typ == linux.S_IFDIR && r.lower != nil {
		return linux.EXDEV
	}
	if err := c.copyUp(ctx, -1); err != nil {
		return err
	}
	if exchange {
		if err := r.copyUp(ctx, -1); err != nil {
			return err
		}
	}
	if err := d.copyUp(ctx, -1); err != nil {
		return err
	}
	if err := nd.copyUp(ctx, -1); err != nil {
		return err
	}
	// The VFS holds its rename lock, so no other rename orders these two
	// the other way.
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if nd != d {
		nd.dirMu.Lock()
		defer nd.dirMu.Unlock()
	}
	ou, nu := d.upperDir(), nd.upperDir()
	cu := c.getUpper()

	if exchange {
		ru := r.getUpper()
		if err := ou.Rename(ctx, oldName, cu, nu, newName, ru, linux.RENAME_EXCHANGE); err != nil {
			return err
		}
		for _, m := range [...]struct {
			n      *inode
			u      vfs.Inode
			parent *directory
			name   string
		}{{c, cu, nd, newName}, {r, ru, d, oldName}} {
			if err := m.n.moved(ctx, m.u, m.parent, m.name); err != nil {
				return err
			}
		}
		return nil
	}

	var ru vfs.Inode
	if r != nil {
		if rd, ok := replaced.(*directory); ok {
			rd.dirMu.Lock()
			defer rd.dirMu.Unlock()
			if err := rd.clearLocked(ctx); err != nil {
				return err
			}
		}
		ru = r.getUpper()
	} else {
		wh, err := whiteoutAt(ctx, nu, newName)
		if err != nil {
			return err
		}
		ru = wh
	}
	need, err := d.lowerHas(ctx, oldName)
	if err != nil {
		return err
	}
	var ruIno uint64
	if ru != nil {
		if ruIno, err = inoOf(ctx, ru); err != nil {
			return err
		}
	}
	if err := ou.Rename(ctx, oldName, cu, nu, newName, ru, 0); err != nil {
		return err
	}
	if ru != nil {
		d.fs.forgetIfGone(ctx, ru, ruIno)
	}
	if r != nil && ru == nil {
		r.mu.Lock()
		r.removed = true
		r.mu.Unlock()
	}
	if err := c.moved(ctx, cu, nd, newName); err != nil {
		return err
	}
	if need {
		return d.fs.makeWhiteout(ctx, ou, oldName)
	}
	return nil
}

// moved records that i, whose upper inode is u, is now name in parent.
func (i *inode) moved(ctx context.Context, u vfs.Inode, parent *directory, name string) error {
	if i.typ == linux.S_IFDIR {
		uino, err := inoOf(ctx, u)
		if err != nil {
			return err
		}
		i.fs.setOpaque(uino)
	}
	i.mu.Lock()
	i.parent, i.name = parent, name
	i.mu.Unlock()
	return nil
}

// listNames returns the names in the layer directory dir, without "."
// and "..".
func listNames(ctx context.Context, dir vfs.DirectoryInode) ([]string, error) {
	var names []string
	err := dir.IterDirents(ctx, 0, func(e vfs.Dirent) error {
		if e.Name != "." && e.Name != ".." {
			names = append(names, e.Name)
		}
		return nil
	})
	return names, err
}

func listDirents(ctx context.Context, dir vfs.DirectoryInode) ([]vfs.Dirent, error) {
	var ents []vfs.Dirent
	err := dir.IterDirents(ctx, 0, func(e vfs.Dirent) error {
		if e.Name != "." && e.Name != ".." {
			ents = append(ents, e)
		}
		return nil
	})
	return ents, err
}

// mergedLocked returns d's entries as the overlay shows them, without "."
// and "..": the upper ones that are not whiteouts, then the lower ones
// that neither an upper entry nor a whiteout hides. Inode numbers are
// those stat reports. NextOff is not set. d.dirMu must be held.
func (d *directory) mergedLocked(ctx context.Context) ([]vfs.Dirent, error) {
	var lower []vfs.Dirent
	lowerIdx := make(map[string]int)
	ld := d.lowerDir()
	if ld != nil {
		var err error
		if lower, err = listDirents(ctx, ld); err != nil {
			return nil, err
		}
		for i, e := range lower {
			lowerIdx[e.Name] = i
		}
	}
	var out []vfs.Dirent
	inUpper := make(map[string]bool)
	if up := d.upperDir(); up != nil {
		ents, err := listDirents(ctx, up)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			inUpper[e.Name] = true
			if e.Type == linux.DT_CHR || e.Type == linux.DT_UNKNOWN {
				wh, err := whiteoutAt(ctx, up, e.Name)
				if err != nil {
					return nil, err
				}
				if wh != nil {
					continue
				}
			}
			upperIno := e.Ino
			e.Ino = d.fs.inoFromUpper(upperIno)
			if e.Type == linux.DT_DIR {
				if i, ok := lowerIdx[e.Name]; ok && !d.fs.isOpaque(upperIno) {
					isDir, err := isLowerDir(ctx, ld, lower[i])
					if err != nil {
						return nil, err
					}
					if isDir {
						// A merged directory: numbered as its lower part.
						e.Ino = lower[i].Ino
					}
				}
			}
			out = append(out, e)
		}
	}
	for _, e := range lower {
		if !inUpper[e.Name] {
			out = append(out, e)
		}
	}
	return out, nil
}

// isLowerDir reports whether the lower entry e of ld is a directory,
// asking the layer when the listing did not say.
func isLowerDir(ctx context.Context, ld vfs.DirectoryInode, e vfs.Dirent) (bool, error) {
	if e.Type != linux.DT_UNKNOWN {
		return e.Type == linux.DT_DIR, nil
	}
	c, err := ld.Lookup(ctx, e.Name)
	if err != nil {
		return false, err
	}
	return c.Type() == linux.S_IFDIR, nil
}

// snapshot returns d's full listing, "." and ".." first, with offsets
// that index it.
func (d *directory) snapshot(ctx context.Context) ([]vfs.Dirent, error) {
	d.dirMu.RLock()
	ents, err := d.mergedLocked(ctx)
	d.dirMu.RUnlock()
	if err != nil {
		return nil, err
	}
	d.mu.RLock()
	parent := d.parent
	d.mu.RUnlock()
	pino := d.ino
	if parent != nil {
		pino = parent.ino
	}
	out := make([]vfs.Dirent, 0, len(ents)+2)
	out = append(out,
		vfs.Dirent{Name: ".", Type: linux.DT_DIR, Ino: d.ino},
		vfs.Dirent{Name: "..", Type: linux.DT_DIR, Ino: pino})
	out = append(out, ents...)
	for i := range out {
		out[i].NextOff = int64(i) + 1
	}
	return out, nil
}

// IterDirents implements vfs.DirectoryInode over a fresh listing. Offsets
// index the listing, so they hold only while the directory does not
// change; open directories iterate over a snapshot instead (dirFD).
func (d *directory) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	ents, err := d.snapshot(ctx)
	if err != nil {
		return err
	}
	return iterFrom(ents, offset, cb)
}

func iterFrom(ents []vfs.Dirent, offset int64, cb vfs.IterDirentsCallback) error {
	for i := max(offset, 0); i < int64(len(ents)); i++ {
		if err := cb(ents[i]); err != nil {
			return err
		}
	}
	return nil
}

// Open implements vfs.Inode.
func (d *directory) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	fd := &dirFD{dir: d}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// dirFD is an open overlay directory. Merging two layers gives no offsets
// that survive changes, so the description lists a snapshot of the
// merged directory, taken when reading starts at offset 0 (opendir,
// rewinddir); offsets index it and stay valid until the next rewind.
type dirFD struct {
	vfs.DirectoryFileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	dir   *directory

	// mu guards ents.
	mu   sync.Mutex
	ents []vfs.Dirent
}

// IterDirents implements vfs.FileDescriptionImpl.
func (fd *dirFD) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if offset == 0 || fd.ents == nil {
		ents, err := fd.dir.snapshot(ctx)
		if err != nil {
			return err
		}
		fd.ents = ents
	}
	return iterFrom(fd.ents, offset, cb)
}

// Seek implements vfs.Seeker: an offset is an index into the listing, set
// absolutely or relatively (telldir/seekdir).
func (fd *dirFD) Seek(_ context.Context, offset int64, whence int32, cur int64) (int64, error) {
	switch whence {
	case linux.SEEK_SET:
	case linux.SEEK_CUR:
		offset += cur
	default:
		return 0, linux.EINVAL
	}
	if offset < 0 {
		return 0, linux.EINVAL
	}
	return offset, nil
}
