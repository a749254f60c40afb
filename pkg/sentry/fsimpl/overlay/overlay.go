// Package overlay is a union filesystem with Linux overlayfs semantics: a
// read-only lower layer (any VFS filesystem; in practice the container's
// root served by the gofer) under a writable upper layer (an empty tmpfs),
// so that the application can change its root filesystem while the host
// never sees a write.
//
// # Layers
//
// Each overlay inode pairs an upper inode, a lower inode, or both (a
// merged directory). The layers are driven through their vfs.Inode
// methods directly, not through paths, so the overlay needs the layers'
// roots only; mounts beneath those roots are not part of the overlay (as
// Linux's overlayfs does not cross mounts in a layer). Nothing else may
// change the layers while the overlay uses them.
//
// Lookup prefers the upper entry. A whiteout in the upper layer (a
// character device 0:0, as Linux represents it) hides the lower entry of
// the same name. Linux marks an opaque directory, one whose lower
// counterpart must stay hidden, with the trusted.overlay.opaque xattr;
// tmpfs has no xattrs, so this package keeps that mark, and the
// trusted.overlay.origin that records which lower file an upper one was
// copied from, in a table keyed by the upper inode number (see meta.go).
// Because of that, mknod of a character device 0:0 through the overlay
// fails with EPERM: it would read back as a whiteout.
//
// # Copy-up
//
// Reads of a file that exists only in the lower layer go to the lower
// file. Opening it for writing, truncating it, changing any attribute or
// linking it first copies it up: its missing ancestors are created in the
// upper layer with their modes, owners and times, then the file itself
// (data, symlink target or special-file type) with its mode, owner and
// times; later operations go to the copy. Copy-up runs with the mounter's
// credentials. A directory of the upper layer keeps its times across the
// copy-up of a child, as on Linux. Each inode is copied up once however
// many callers race for it. A partial copy (an I/O error halfway) is
// removed again.
//
// A file description opened read-only before its file was copied up
// switches to the upper copy at its next operation, as Linux (since 4.19)
// makes it; memory mappings made through it stay on the lower file, as on
// Linux.
//
// # Namespace changes
//
// Create, mkdir, symlink, mknod and link go to the upper layer. Removing
// a name that the lower layer has leaves a whiteout; rmdir of a merged
// directory requires it to be empty in the merged view. mkdir over a
// whiteout makes an opaque directory. Rename copies a file up and leaves
// a whiteout at its old name if the lower layer has that name; renaming a
// directory that exists in the lower layer fails with EXDEV, as Linux's
// overlayfs does without redirect_dir, and programs such as mv then copy.
// Hard links of the lower layer become separate files when one of them is
// copied up, both still numbered as the lower file (as with Linux's
// overlayfs without index=on).
//
// # Identity
//
// Every file reports the overlay's st_dev. Its inode number is the lower
// file's for anything that exists (or existed, before a copy-up) in the
// lower layer, so it does not change when a file is copied up; a file
// created in the upper layer reports its upper inode number with bit 63
// set, which keeps the two layers' numbers apart (lower layers whose
// inode numbers use bit 63 could collide). A merged directory reports
// one link, as Linux does. statfs reports the upper layer's figures with
// the overlayfs magic number.
//
// # Not supported
//
// Checkpointing (the gofer lower layer cannot be saved), extended
// attributes, and copy-up of a lower file whose last name was removed
// while a read-only description kept it open (such a fchmod or fchown
// fails with ENOENT).
package overlay

import (
	"context"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the filesystem type's name.
const Name = "overlay"

// FilesystemType is the overlay's type. Instances are made with
// NewFilesystem, since mount(2) data cannot name the layers' dentries.
type FilesystemType struct{}

// Name implements vfs.FilesystemType.
func (FilesystemType) Name() string { return Name }

// GetFilesystem implements vfs.FilesystemType. mount(2) with
// lowerdir=/upperdir= paths is not supported: it fails with EINVAL.
func (FilesystemType) GetFilesystem(context.Context, *vfs.VirtualFilesystem, *auth.Credentials, string, vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	return nil, nil, linux.EINVAL
}

// Options name the layers of a new overlay.
type Options struct {
	// Lower is the root of the read-only layer, a directory. The overlay
	// only reads it.
	Lower vfs.VirtualDentry
	// Upper is the root of the writable layer: a directory of a
	// filesystem that only the overlay uses, normally a new tmpfs. It
	// takes the lower root's mode, owner and times.
	Upper vfs.VirtualDentry
}

// filesystem is one overlay instance.
type filesystem struct {
	vfsfs    vfs.Filesystem
	devMinor uint32
	// lower and upper are the layer roots, referenced for the
	// overlay's lifetime.
	lower, upper vfs.VirtualDentry
	// creds are the mounter's, with every capability: copy-up must
	// reproduce any owner and mode, as Linux's does with the mounter's
	// credentials.
	creds *auth.Credentials

	// metaMu guards meta.
	metaMu sync.Mutex
	meta   map[uint64]upperMeta

	// copyUps counts completed copy-ups.
	copyUps atomic.Uint64
}

// NewFilesystem returns an overlay of opts.Upper over opts.Lower and its
// root dentry. creds are the mounter's; copy-up acts with them and every
// capability.
func NewFilesystem(ctx context.Context, vfsObj *vfs.VirtualFilesystem, creds *auth.Credentials, opts Options) (*vfs.Filesystem, *vfs.Dentry, error) {
	if !opts.Lower.Ok() || !opts.Upper.Ok() {
		return nil, nil, linux.EINVAL
	}
	lowerRoot, ok := opts.Lower.Dentry().Inode().(vfs.DirectoryInode)
	if !ok || lowerRoot.Type() != linux.S_IFDIR {
		return nil, nil, linux.ENOTDIR
	}
	upperRoot, ok := opts.Upper.Dentry().Inode().(vfs.DirectoryInode)
	if !ok || upperRoot.Type() != linux.S_IFDIR {
		return nil, nil, linux.ENOTDIR
	}
	c := creds.Fork()
	c.PermittedCaps, c.EffectiveCaps = auth.AllCapabilities, auth.AllCapabilities
	fs := &filesystem{
		devMinor: vfsObj.GetAnonBlockDevMinor(),
		lower:    opts.Lower,
		upper:    opts.Upper,
		creds:    c,
		meta:     make(map[uint64]upperMeta),
	}
	fs.vfsfs.Init(vfsObj, FilesystemType{}, fs)

	lst, err := lowerRoot.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if err != nil {
		return nil, nil, err
	}
	if err := fs.copyAttrs(ctx, upperRoot, lst); err != nil {
		return nil, nil, err
	}
	root := &directory{}
	root.init(fs, linux.S_IFDIR, lst.Ino, upperRoot, lowerRoot, nil, "")
	opts.Lower.IncRef()
	opts.Upper.IncRef()
	return &fs.vfsfs, fs.vfsfs.NewRootDentry(root), nil
}

// StatFS implements vfs.FilesystemImpl: the upper layer's figures, since
// that is where new data goes, under the overlayfs magic. An upper layer
// without a size (an unlimited tmpfs, which reports no blocks) gives the
// lower layer's block and inode figures instead, so that df shows the
// root with the size of what it overlays rather than hiding it.
func (fs *filesystem) StatFS(ctx context.Context) (linux.Statfs, error) {
	st, err := fs.upper.Dentry().Filesystem().Impl().StatFS(ctx)
	if err != nil {
		return st, err
	}
	if st.Blocks == 0 {
		if lst, err := fs.lower.Dentry().Filesystem().Impl().StatFS(ctx); err == nil && lst.Blocks != 0 {
			st.BlockSize, st.FragmentSize = lst.BlockSize, lst.FragmentSize
			st.Blocks, st.BlocksFree, st.BlocksAvailable = lst.Blocks, lst.BlocksFree, lst.BlocksAvailable
			st.Files, st.FilesFree = lst.Files, lst.FilesFree
		}
	}
	st.Type = linux.OVERLAYFS_SUPER_MAGIC
	st.FSID = [2]int32{int32(fs.devMinor), 0}
	return st, nil
}

// CopyUps returns how many files fs has copied up, for tests and
// diagnostics; it is 0 for a filesystem that is not an overlay.
func CopyUps(vfsfs *vfs.Filesystem) uint64 {
	fs, ok := vfsfs.Impl().(*filesystem)
	if !ok {
		return 0
	}
	return fs.copyUps.Load()
}

// layerVD returns a VirtualDentry through which the overlay opens inode of
// the upper (or lower) layer: a private, parentless dentry of that layer,
// since layer files are reached by inode rather than by path.
func (fs *filesystem) layerVD(upper bool, inode vfs.Inode) vfs.VirtualDentry {
	l := fs.lower
	if upper {
		l = fs.upper
	}
	if l.Dentry().Inode() == inode {
		return l
	}
	return vfs.MakeVirtualDentry(l.Mount(), l.Dentry().Filesystem().NewDisconnectedDentry(inode, ""))
}

// copyCtx is ctx acting with the overlay's own credentials, for the layer
// operations of copy-up (tmpfs takes the writer's credentials from the
// context to decide whether a write clears set-user-ID).
func (fs *filesystem) copyCtx(ctx context.Context) context.Context {
	return auth.ContextWithCredentials(ctx, fs.creds)
}
