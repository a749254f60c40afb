package vfs

import (
	"context"
	"strings"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// PathOperation says what path to resolve and from where.
type PathOperation struct {
	// Root is the resolution root: the process's root directory, which
	// ".." never climbs above and absolute paths and symlinks start at.
	Root VirtualDentry
	// Start is where a relative path starts: the working directory or
	// the directory of a dirfd.
	Start VirtualDentry
	// Path is the path as the application gave it.
	Path string
	// FollowFinalSymlink makes a symlink in the last component resolve
	// to its target. A trailing slash forces following.
	FollowFinalSymlink bool
	// AllowEmptyPath makes "" name Start itself (AT_EMPTY_PATH); without
	// it an empty path fails with ENOENT.
	AllowEmptyPath bool
	// Resolve holds openat2's RESOLVE_* restrictions.
	Resolve uint64
}

const resolveKnown = linux.RESOLVE_NO_XDEV | linux.RESOLVE_NO_MAGICLINKS | linux.RESOLVE_NO_SYMLINKS |
	linux.RESOLVE_BENEATH | linux.RESOLVE_IN_ROOT | linux.RESOLVE_CACHED

// resolver is the state of one path walk. It holds no references: the
// VirtualDentries it passes through stay reachable from the operation's
// Root and Start, which the caller holds, or from the tree.
type resolver struct {
	vfs   *VirtualFilesystem
	ctx   context.Context
	creds *auth.Credentials

	root  VirtualDentry
	start VirtualDentry
	cur   VirtualDentry
	// rest is the unwalked remainder of the path; a followed symlink's
	// target is spliced in front of it.
	rest string
	// mustBeDir is set once the final component turned out to have a
	// trailing slash.
	mustBeDir bool
	symlinks  int
	flags     uint64
}

func (vfs *VirtualFilesystem) newResolver(ctx context.Context, creds *auth.Credentials, pop *PathOperation) (*resolver, error) {
	if len(pop.Path) >= linux.PATH_MAX {
		return nil, linux.ENAMETOOLONG
	}
	if pop.Path == "" && !pop.AllowEmptyPath {
		return nil, linux.ENOENT
	}
	if pop.Resolve&^resolveKnown != 0 ||
		pop.Resolve&(linux.RESOLVE_BENEATH|linux.RESOLVE_IN_ROOT) == linux.RESOLVE_BENEATH|linux.RESOLVE_IN_ROOT {
		return nil, linux.EINVAL
	}
	r := &resolver{
		vfs: vfs, ctx: ctx, creds: creds,
		root: pop.Root, start: pop.Start, cur: pop.Start,
		rest: pop.Path, flags: pop.Resolve,
	}
	if r.flags&linux.RESOLVE_IN_ROOT != 0 {
		r.root = pop.Start
	}
	if strings.HasPrefix(r.rest, "/") {
		if r.flags&linux.RESOLVE_BENEATH != 0 {
			return nil, linux.EXDEV
		}
		r.cur = r.root
	}
	if !r.cur.Ok() {
		return nil, linux.ENOENT
	}
	return r, nil
}

// next removes the next component from r.rest, which must hold one, and
// reports whether it is the last.
func (r *resolver) next() (name string, last bool) {
	i := strings.IndexByte(r.rest, '/')
	if i < 0 {
		name, r.rest = r.rest, ""
		return name, true
	}
	name, r.rest = r.rest[:i], r.rest[i:]
	if strings.TrimLeft(r.rest, "/") == "" {
		r.rest = ""
		r.mustBeDir = true
		return name, true
	}
	return name, false
}

// walk resolves r.rest. With parentOnly it stops before the last
// component and returns its name (after checking that r.cur is a
// searchable directory), or "" if the path has no components left (it
// named r.cur itself, like "/"). Otherwise r.cur is the result.
func (r *resolver) walk(parentOnly, followFinal bool) (string, error) {
	for {
		r.rest = strings.TrimLeft(r.rest, "/")
		if r.rest == "" {
			if parentOnly {
				return "", nil
			}
			return "", r.finish()
		}
		name, last := r.next()
		if len(name) > linux.NAME_MAX {
			return "", linux.ENAMETOOLONG
		}
		if last && parentOnly {
			return name, r.checkSearchableDir()
		}
		next, err := r.step(name)
		if err != nil {
			return "", err
		}
		if next.dentry.inode.Type() == linux.S_IFLNK && (!last || followFinal || r.mustBeDir) {
			if err := r.followSymlink(next); err != nil {
				return "", err
			}
			continue
		}
		r.cur = next
		if last {
			return "", r.finish()
		}
	}
}

func (r *resolver) finish() error {
	if r.mustBeDir && !r.cur.dentry.isDir() {
		return linux.ENOTDIR
	}
	return nil
}

func (r *resolver) checkSearchableDir() error {
	if !r.cur.dentry.isDir() {
		return linux.ENOTDIR
	}
	return r.cur.dentry.inode.CheckPermission(r.ctx, r.creds, auth.MayExec)
}

// step returns what name in r.cur resolves to, without following a
// symlink there.
func (r *resolver) step(name string) (VirtualDentry, error) {
	if err := r.checkSearchableDir(); err != nil {
		return VirtualDentry{}, err
	}
	switch name {
	case ".":
		return r.cur, nil
	case "..":
		return r.dotdot()
	}
	child, err := r.vfs.lookupChild(r.ctx, r.cur.dentry, name)
	if err != nil {
		return VirtualDentry{}, err
	}
	return r.followMounts(VirtualDentry{r.cur.mount, child})
}

// followMounts descends through the mounts stacked at vd.
func (r *resolver) followMounts(vd VirtualDentry) (VirtualDentry, error) {
	for vd.dentry.isMountPoint() {
		m := r.vfs.mountAt(vd)
		if m == nil {
			break
		}
		if r.flags&linux.RESOLVE_NO_XDEV != 0 {
			return VirtualDentry{}, linux.EXDEV
		}
		vd = VirtualDentry{m, m.root}
	}
	return vd, nil
}

// up returns the parent of vd across mounts: the dentry's parent, or for
// a mount's root the mountpoint's parent side. ok is false at the top of
// the tree.
func (r *resolver) up(vd VirtualDentry) (VirtualDentry, bool, error) {
	for vd.dentry == vd.mount.root {
		if vd == r.root {
			return vd, false, nil
		}
		r.vfs.mountMu.RLock()
		p, pt := vd.mount.parent, vd.mount.point
		r.vfs.mountMu.RUnlock()
		if p == nil {
			return vd, false, nil
		}
		if r.flags&linux.RESOLVE_NO_XDEV != 0 {
			return VirtualDentry{}, false, linux.EXDEV
		}
		vd = VirtualDentry{p, pt}
	}
	if vd == r.root {
		return vd, false, nil
	}
	r.vfs.renameMu.RLock()
	parent := vd.dentry.parent
	r.vfs.renameMu.RUnlock()
	if parent == nil {
		return vd, false, nil
	}
	return VirtualDentry{vd.mount, parent}, true, nil
}

func (r *resolver) dotdot() (VirtualDentry, error) {
	vd, _, err := r.up(r.cur)
	if err != nil {
		return VirtualDentry{}, err
	}
	if vd, err = r.followMounts(vd); err != nil {
		return VirtualDentry{}, err
	}
	if r.flags&linux.RESOLVE_BENEATH != 0 && !r.isBeneathStart(vd) {
		return VirtualDentry{}, linux.EXDEV
	}
	return vd, nil
}

// isBeneathStart reports whether vd is r.start or below it.
func (r *resolver) isBeneathStart(vd VirtualDentry) bool {
	for {
		if vd == r.start {
			return true
		}
		var ok bool
		if vd, ok, _ = r.up(vd); !ok {
			return vd == r.start
		}
	}
}

// followSymlink continues the walk at the target of the symlink at vd,
// which is in directory r.cur.
func (r *resolver) followSymlink(vd VirtualDentry) error {
	if r.flags&linux.RESOLVE_NO_SYMLINKS != 0 {
		return linux.ELOOP
	}
	r.symlinks++
	if r.symlinks > linux.MaxSymlinkTraversals {
		return linux.ELOOP
	}
	if vd.mount.Flags()&linux.MS_NOSYMFOLLOW != 0 {
		return linux.ELOOP
	}
	if ml, ok := vd.dentry.inode.(MagicLinkInode); ok {
		if r.flags&linux.RESOLVE_NO_MAGICLINKS != 0 {
			return linux.ELOOP
		}
		if r.flags&(linux.RESOLVE_BENEATH|linux.RESOLVE_IN_ROOT) != 0 {
			return linux.EXDEV
		}
		target, err := ml.GetLink(r.ctx)
		if err != nil {
			return err
		}
		target.DecRef()
		r.cur = target
		return nil
	}
	sl, ok := vd.dentry.inode.(SymlinkInode)
	if !ok {
		return linux.EIO
	}
	target, err := sl.Readlink(r.ctx)
	if err != nil {
		return err
	}
	if target == "" {
		return linux.ENOENT
	}
	if target[0] == '/' {
		if r.flags&linux.RESOLVE_BENEATH != 0 {
			return linux.EXDEV
		}
		r.cur = r.root
	}
	r.rest = target + r.rest
	return nil
}

// resolve walks the whole path of pop and returns the result with a
// reference.
func (vfs *VirtualFilesystem) resolve(ctx context.Context, creds *auth.Credentials, pop *PathOperation, follow bool) (VirtualDentry, error) {
	r, err := vfs.newResolver(ctx, creds, pop)
	if err != nil {
		return VirtualDentry{}, err
	}
	if _, err := r.walk(false, follow); err != nil {
		return VirtualDentry{}, err
	}
	r.cur.IncRef()
	return r.cur, nil
}

// resolveParent walks all but the last component of pop and returns the
// resolver (whose cur is the parent directory) and the last component's
// name, "" if the path has none.
func (vfs *VirtualFilesystem) resolveParent(ctx context.Context, creds *auth.Credentials, pop *PathOperation) (*resolver, string, error) {
	r, err := vfs.newResolver(ctx, creds, pop)
	if err != nil {
		return nil, "", err
	}
	name, err := r.walk(true, false)
	if err != nil {
		return nil, "", err
	}
	return r, name, nil
}

// GetDentryOptions qualify GetDentryAt.
type GetDentryOptions struct {
	// CheckSearchable requires the result to be a directory the caller
	// may search (chdir, chroot).
	CheckSearchable bool
}

// GetDentryAt resolves pop and returns the result with a reference.
func (vfs *VirtualFilesystem) GetDentryAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, opts *GetDentryOptions) (VirtualDentry, error) {
	vd, err := vfs.resolve(ctx, creds, pop, pop.FollowFinalSymlink)
	if err != nil {
		return VirtualDentry{}, err
	}
	if opts != nil && opts.CheckSearchable {
		if !vd.dentry.isDir() {
			vd.DecRef()
			return VirtualDentry{}, linux.ENOTDIR
		}
		if err := vd.dentry.inode.CheckPermission(ctx, creds, auth.MayExec); err != nil {
			vd.DecRef()
			return VirtualDentry{}, err
		}
	}
	return vd, nil
}
