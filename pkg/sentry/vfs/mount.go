package vfs

import (
	"context"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// VirtualDentry is a dentry as seen through a mount: what a path resolves
// to. A VirtualDentry obtained with a reference (as every returned one is,
// unless a method says otherwise) keeps its mount busy until DecRef.
//
// +stateify savable
type VirtualDentry struct {
	mount  *Mount
	dentry *Dentry
}

// MakeVirtualDentry pairs mnt and d without taking a reference.
func MakeVirtualDentry(mnt *Mount, d *Dentry) VirtualDentry {
	return VirtualDentry{mount: mnt, dentry: d}
}

// Ok reports whether vd is not the zero value.
func (vd VirtualDentry) Ok() bool { return vd.mount != nil }

// Mount returns vd's mount.
func (vd VirtualDentry) Mount() *Mount { return vd.mount }

// Dentry returns vd's dentry.
func (vd VirtualDentry) Dentry() *Dentry { return vd.dentry }

// IncRef takes a reference on vd's mount.
func (vd VirtualDentry) IncRef() {
	if vd.mount != nil {
		vd.mount.refs.Add(1)
	}
}

// DecRef drops a reference taken by IncRef.
func (vd VirtualDentry) DecRef() {
	if vd.mount != nil {
		if vd.mount.refs.Add(-1) < 0 {
			panic("vfs: mount reference count went negative")
		}
	}
}

// Mount is a filesystem's tree (or a subtree, for a bind mount) attached
// at a place in a mount namespace, with its own flags.
//
// +stateify savable
type Mount struct {
	vfs  *VirtualFilesystem
	id   uint64
	fs   *Filesystem
	root *Dentry

	// flags holds the per-mount MS_* flags (MS_RDONLY, MS_NOSUID,
	// MS_NODEV, MS_NOEXEC, MS_NOATIME, MS_NODIRATIME, MS_RELATIME,
	// MS_NOSYMFOLLOW); read without locks on every path step.
	flags atomic.Uint32

	// refs counts VirtualDentry references: open files, working and
	// root directories. A mount with references is busy.
	refs atomic.Int64

	// parent, point, children and ns are guarded by vfs.mountMu. parent
	// is nil for a namespace root and for a detached or anonymous mount.
	parent   *Mount
	point    *Dentry
	children map[*Mount]bool
	ns       *MountNamespace
}

// MountFlagsMask are the mount(2) flags that are per-mount attributes.
const MountFlagsMask = linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC |
	linux.MS_NOATIME | linux.MS_NODIRATIME | linux.MS_RELATIME | linux.MS_NOSYMFOLLOW

// ID returns the mount's ID (/proc/self/mountinfo, statx STATX_MNT_ID).
func (mnt *Mount) ID() uint64 { return mnt.id }

// Filesystem returns the mounted filesystem.
func (mnt *Mount) Filesystem() *Filesystem { return mnt.fs }

// Root returns the dentry at the mount's root.
func (mnt *Mount) Root() *Dentry { return mnt.root }

// Flags returns the mount's MS_* flags.
func (mnt *Mount) Flags() uint32 { return mnt.flags.Load() }

// ReadOnly reports MS_RDONLY.
func (mnt *Mount) ReadOnly() bool { return mnt.Flags()&linux.MS_RDONLY != 0 }

// NoExec reports MS_NOEXEC: execve and PROT_EXEC mappings of its files
// fail with EACCES.
func (mnt *Mount) NoExec() bool { return mnt.Flags()&linux.MS_NOEXEC != 0 }

// NoSUID reports MS_NOSUID: execve ignores set-user-ID bits of its files.
func (mnt *Mount) NoSUID() bool { return mnt.Flags()&linux.MS_NOSUID != 0 }

// NoDev reports MS_NODEV: its device nodes cannot be opened.
func (mnt *Mount) NoDev() bool { return mnt.Flags()&linux.MS_NODEV != 0 }

// Refs returns the number of references, for tests and diagnostics.
func (mnt *Mount) Refs() int64 { return mnt.refs.Load() }

// SetFlags replaces the per-mount flags (mount -o remount,bind).
func (mnt *Mount) SetFlags(flags uint32) { mnt.flags.Store(flags & MountFlagsMask) }

func (vfs *VirtualFilesystem) newMount(fs *Filesystem, root *Dentry, flags uint32) *Mount {
	mnt := &Mount{vfs: vfs, id: vfs.lastMountID.Add(1), fs: fs, root: root}
	mnt.flags.Store(flags & MountFlagsMask)
	return mnt
}

// NewDisconnectedMount returns a mount of fs at root that is in no
// namespace, for kernel-internal filesystems (pipefs) and for building a
// tree before it is attached.
func (vfs *VirtualFilesystem) NewDisconnectedMount(fs *Filesystem, root *Dentry, flags uint32) *Mount {
	return vfs.newMount(fs, root, flags)
}

// MountNamespace is a tree of mounts with a root.
//
// +stateify savable
type MountNamespace struct {
	root *Mount
	// Owner is the user namespace whose CAP_SYS_ADMIN may change the
	// tree.
	Owner *auth.UserNamespace
}

// MountOptions are the arguments of a mount.
type MountOptions struct {
	// Flags are MS_* per-mount flags.
	Flags uint32
	// GetFilesystemOptions go to the filesystem type.
	GetFilesystemOptions GetFilesystemOptions
	// InternalMount allows types not registered with AllowUserMount.
	InternalMount bool
}

// NewMountNamespace returns a namespace whose root is a new instance of
// the type called fsTypeName.
func (vfs *VirtualFilesystem) NewMountNamespace(ctx context.Context, creds *auth.Credentials, source, fsTypeName string, opts *MountOptions) (*MountNamespace, error) {
	fs, root, err := vfs.makeFilesystem(ctx, creds, source, fsTypeName, opts)
	if err != nil {
		return nil, err
	}
	return vfs.NewMountNamespaceWithRoot(creds, fs, root, opts.Flags), nil
}

func (vfs *VirtualFilesystem) makeFilesystem(ctx context.Context, creds *auth.Credentials, source, fsTypeName string, opts *MountOptions) (*Filesystem, *Dentry, error) {
	t, err := vfs.getFilesystemType(fsTypeName, !opts.InternalMount)
	if err != nil {
		return nil, nil, err
	}
	return t.GetFilesystem(ctx, vfs, creds, source, opts.GetFilesystemOptions)
}

// Root returns the namespace's root with a reference.
func (mntns *MountNamespace) Root() VirtualDentry {
	vd := VirtualDentry{mntns.root, mntns.root.root}
	vd.IncRef()
	return vd
}

// Mounts returns the namespace's mounts, parents before children, for
// /proc/self/mounts.
func (vfs *VirtualFilesystem) Mounts(mntns *MountNamespace) []*Mount {
	vfs.mountMu.RLock()
	defer vfs.mountMu.RUnlock()
	var out []*Mount
	var visit func(m *Mount)
	visit = func(m *Mount) {
		out = append(out, m)
		for c := range m.children {
			visit(c)
		}
	}
	visit(mntns.root)
	return out
}

// mountAt returns the mount attached at vd, or nil.
func (vfs *VirtualFilesystem) mountAt(vd VirtualDentry) *Mount {
	if !vd.dentry.isMountPoint() {
		return nil
	}
	vfs.mountMu.RLock()
	defer vfs.mountMu.RUnlock()
	return vfs.mountpoints[vd]
}

// connectLocked attaches mnt at (parent, point). vfs.mountMu must be held
// for writing.
func (vfs *VirtualFilesystem) connectLocked(mnt, parent *Mount, point *Dentry) {
	mnt.parent, mnt.point, mnt.ns = parent, point, parent.ns
	if parent.children == nil {
		parent.children = make(map[*Mount]bool)
	}
	parent.children[mnt] = true
	vfs.mountpoints[VirtualDentry{parent, point}] = mnt
	point.mounts.Add(1)
}

// disconnectLocked detaches mnt from its parent. vfs.mountMu must be held
// for writing.
func (vfs *VirtualFilesystem) disconnectLocked(mnt *Mount) {
	if mnt.parent == nil {
		return
	}
	delete(mnt.parent.children, mnt)
	delete(vfs.mountpoints, VirtualDentry{mnt.parent, mnt.point})
	mnt.point.mounts.Add(-1)
	mnt.parent, mnt.point, mnt.ns = nil, nil, nil
}

// attach mounts mnt at target, which a walk resolved (so it is the top of
// any stack of mounts there). If a concurrent mount got there first, mnt
// goes on top of it.
func (vfs *VirtualFilesystem) attach(mnt *Mount, target VirtualDentry) error {
	vfs.mountMu.Lock()
	defer vfs.mountMu.Unlock()
	if target.mount.ns == nil {
		return linux.EINVAL
	}
	for {
		top, ok := vfs.mountpoints[target]
		if !ok {
			break
		}
		target = VirtualDentry{top, top.root}
	}
	target.dentry.mu.Lock()
	dead := target.dentry.dead
	target.dentry.mu.Unlock()
	if dead {
		return linux.ENOENT
	}
	vfs.connectLocked(mnt, target.mount, target.dentry)
	return nil
}

// MountAt mounts a new instance of fsTypeName at the directory target
// resolves to.
func (vfs *VirtualFilesystem) MountAt(ctx context.Context, creds *auth.Credentials, source string, target *PathOperation, fsTypeName string, opts *MountOptions) (*Mount, error) {
	vd, err := vfs.GetDentryAt(ctx, creds, target, &GetDentryOptions{CheckSearchable: false})
	if err != nil {
		return nil, err
	}
	defer vd.DecRef()
	if !vd.dentry.isDir() {
		return nil, linux.ENOTDIR
	}
	fs, root, err := vfs.makeFilesystem(ctx, creds, source, fsTypeName, opts)
	if err != nil {
		return nil, err
	}
	mnt := vfs.newMount(fs, root, opts.Flags)
	if err := vfs.attach(mnt, vd); err != nil {
		return nil, err
	}
	return mnt, nil
}

// MountDisconnectedAt attaches a mount made by NewDisconnectedMount at
// what target resolves to: a directory, or, when the mount's root is not
// a directory either, a non-directory (a file bind mount). As Linux's
// graft_tree, a directory over a non-directory or the reverse fails with
// ENOTDIR.
func (vfs *VirtualFilesystem) MountDisconnectedAt(ctx context.Context, creds *auth.Credentials, mnt *Mount, target *PathOperation) error {
	vd, err := vfs.GetDentryAt(ctx, creds, target, &GetDentryOptions{})
	if err != nil {
		return err
	}
	defer vd.DecRef()
	if vd.dentry.isDir() != mnt.root.isDir() {
		return linux.ENOTDIR
	}
	return vfs.attach(mnt, vd)
}

// BindAt makes the tree at source visible at target as well (mount
// --bind). With recursive, mounts beneath source are copied too (--rbind).
// The bind mount takes source's mount flags.
func (vfs *VirtualFilesystem) BindAt(ctx context.Context, creds *auth.Credentials, source, target *PathOperation, recursive bool) (*Mount, error) {
	src, err := vfs.GetDentryAt(ctx, creds, source, &GetDentryOptions{})
	if err != nil {
		return nil, err
	}
	defer src.DecRef()
	dst, err := vfs.GetDentryAt(ctx, creds, target, &GetDentryOptions{})
	if err != nil {
		return nil, err
	}
	defer dst.DecRef()
	// Only what is mounted in the namespace can be bound; not a pipe or
	// socket reached through /proc/PID/fd (Linux's check_mnt).
	vfs.mountMu.Lock()
	internal := src.mount.ns == nil
	vfs.mountMu.Unlock()
	if internal {
		return nil, linux.EINVAL
	}
	if src.dentry.isDir() != dst.dentry.isDir() {
		if src.dentry.isDir() {
			return nil, linux.ENOTDIR
		}
		return nil, linux.EISDIR
	}
	// The tree to copy is taken before the copy is attached: the target
	// may lie inside it, and the copy must not copy itself (forever).
	var subs []submount
	if recursive {
		vfs.renameMu.RLock()
		vfs.mountMu.Lock()
		subs, err = vfs.submountsLocked(src)
		vfs.mountMu.Unlock()
		vfs.renameMu.RUnlock()
		if err != nil {
			return nil, err
		}
	}
	mnt := vfs.newMount(src.mount.fs, src.dentry, src.mount.Flags())
	if err := vfs.attach(mnt, dst); err != nil {
		return nil, err
	}
	if recursive {
		vfs.mountMu.Lock()
		copies := map[*Mount]*Mount{src.mount: mnt}
		for _, sub := range subs {
			parent, ok := copies[sub.parent]
			if !ok {
				continue
			}
			c := vfs.newMount(sub.m.fs, sub.m.root, sub.m.Flags())
			vfs.connectLocked(c, parent, sub.point)
			copies[sub.m] = c
		}
		vfs.mountMu.Unlock()
	}
	return mnt, nil
}

// maxRecursiveBind is how many mounts one recursive bind may copy, Linux's
// default fs.mount-max: each --rbind of a tree into itself doubles it.
const maxRecursiveBind = 100000

// submount is one mount of a tree that a recursive bind copies: the mount,
// and the mount and dentry it sits on.
type submount struct {
	m, parent *Mount
	point     *Dentry
}

// submountsLocked lists the mounts below src (mounted on dentries under
// src.dentry, and theirs), each after the mount it sits on; ENOSPC past
// maxRecursiveBind. vfs.renameMu must be held for reading and vfs.mountMu
// for writing.
func (vfs *VirtualFilesystem) submountsLocked(src VirtualDentry) ([]submount, error) {
	var out []submount
	var walk func(m *Mount, under *Dentry) error
	walk = func(m *Mount, under *Dentry) error {
		for c := range m.children {
			if !vfs.isUnderLocked(c.point, under) {
				continue
			}
			if len(out) == maxRecursiveBind {
				return linux.ENOSPC
			}
			out = append(out, submount{m: c, parent: m, point: c.point})
			if err := walk(c, c.root); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(src.mount, src.dentry)
}

// isUnderLocked reports whether d is root or below it in the same tree.
// vfs.renameMu must be held.
func (vfs *VirtualFilesystem) isUnderLocked(d, root *Dentry) bool {
	for ; d != nil; d = d.parent {
		if d == root {
			return true
		}
	}
	return false
}

// UmountOptions are the arguments of umount2(2).
type UmountOptions struct {
	// Flags holds MNT_DETACH; MNT_FORCE is accepted and ignored, as no
	// filesystem here has requests to abort.
	Flags uint32
}

// UmountAt unmounts the mount whose root target resolves to. It fails
// with EINVAL if target is not a mount's root or is the namespace root,
// and with EBUSY if the mount (or, with MNT_DETACH, nothing) is in use:
// open files, working directories or mounts below it. MNT_DETACH removes
// the whole subtree from the namespace at once and leaves users to finish.
func (vfs *VirtualFilesystem) UmountAt(ctx context.Context, creds *auth.Credentials, target *PathOperation, opts *UmountOptions) error {
	if opts.Flags&^(linux.MNT_FORCE|linux.MNT_DETACH|linux.UMOUNT_NOFOLLOW) != 0 {
		return linux.EINVAL
	}
	vd, err := vfs.GetDentryAt(ctx, creds, target, &GetDentryOptions{})
	if err != nil {
		return err
	}
	mnt := vd.mount
	isRoot := vd.dentry == mnt.root
	vd.DecRef()
	if !isRoot {
		return linux.EINVAL
	}
	vfs.mountMu.Lock()
	defer vfs.mountMu.Unlock()
	if mnt.ns == nil || mnt.parent == nil {
		return linux.EINVAL
	}
	if opts.Flags&linux.MNT_DETACH == 0 {
		if len(mnt.children) != 0 || mnt.refs.Load() != 0 {
			return linux.EBUSY
		}
		vfs.disconnectLocked(mnt)
		return nil
	}
	vfs.detachTreeLocked(mnt)
	return nil
}

func (vfs *VirtualFilesystem) detachTreeLocked(mnt *Mount) {
	for c := range mnt.children {
		vfs.detachTreeLocked(c)
	}
	vfs.disconnectLocked(mnt)
}

// NewMountNamespaceWithRoot returns a namespace whose root is an existing
// filesystem instance, for roots built with options that mount(2) data
// cannot carry (the gofer's connection).
func (vfs *VirtualFilesystem) NewMountNamespaceWithRoot(creds *auth.Credentials, fs *Filesystem, root *Dentry, flags uint32) *MountNamespace {
	mntns := &MountNamespace{Owner: creds.UserNamespace}
	mnt := vfs.newMount(fs, root, flags)
	mnt.ns = mntns
	mntns.root = mnt
	return mntns
}
