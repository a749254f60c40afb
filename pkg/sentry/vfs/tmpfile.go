package vfs

import (
	"context"
	"strconv"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// O_TMPFILE (open(2)): an unnamed regular file in a directory of a
// filesystem that supports it. The file starts with no links; unless
// O_EXCL was given, linkat(2) may give it a name once (through
// AT_EMPTY_PATH or /proc/self/fd/N), as Linux's I_LINKABLE allows. Its
// dentry is a dead child of the directory called "#INO", so /proc/self/fd
// shows "/dir/#INO (deleted)" as Linux does.

// TmpfileDirectory is a DirectoryInode that can make unnamed files.
type TmpfileDirectory interface {
	DirectoryInode
	// CreateTmpfile makes a regular file with no links, of mode (S_IFREG
	// and permissions after the umask), owned as creds dictate.
	// linkable says whether one later Link may give it a name.
	CreateTmpfile(ctx context.Context, creds *auth.Credentials, mode linux.FileMode, linkable bool) (Inode, error)
}

// TmpfileInode is implemented by files CreateTmpfile made.
type TmpfileInode interface {
	// TmpfileLinkable reports whether the file, which has no links, may
	// still be linked.
	TmpfileLinkable() bool
}

func tmpfileLinkable(inode Inode) bool {
	t, ok := inode.(TmpfileInode)
	return ok && t.TmpfileLinkable()
}

// openTmpfile implements open(O_TMPFILE) in the directory pop names.
func (vfs *VirtualFilesystem) openTmpfile(ctx context.Context, creds *auth.Credentials, pop *PathOperation, opts *OpenOptions) (*FileDescription, error) {
	flags := opts.Flags
	acc := flags & linux.O_ACCMODE
	if flags&(linux.O_TMPFILE|linux.O_CREAT|linux.O_PATH) != linux.O_TMPFILE || (acc != linux.O_WRONLY && acc != linux.O_RDWR) {
		return nil, linux.EINVAL
	}
	r, err := vfs.newResolver(ctx, creds, pop)
	if err != nil {
		return nil, err
	}
	if _, err := r.walk(false, flags&linux.O_NOFOLLOW == 0); err != nil {
		return nil, err
	}
	dir := r.cur
	if !dir.dentry.isDir() {
		return nil, linux.ENOTDIR
	}
	if err := dir.dentry.inode.CheckPermission(ctx, creds, auth.MayWrite|auth.MayExec); err != nil {
		return nil, err
	}
	td, ok := dir.dentry.inode.(TmpfileDirectory)
	if !ok {
		return nil, linux.EOPNOTSUPP
	}
	if dir.mount.ReadOnly() {
		return nil, linux.EROFS
	}
	if dir.dentry.IsDead() {
		return nil, linux.ENOENT
	}
	inode, err := td.CreateTmpfile(ctx, creds, linux.S_IFREG|opts.Mode&linux.PermissionsMask, flags&linux.O_EXCL == 0)
	if err != nil {
		return nil, err
	}
	st, err := inode.Stat(ctx, StatOptions{Mask: linux.STATX_INO})
	if err != nil {
		return nil, err
	}
	d := &Dentry{fs: dir.dentry.fs, inode: inode, name: "#" + strconv.FormatUint(st.Ino, 10), parent: dir.dentry, dead: true}
	o := *opts
	o.Flags = flags &^ (linux.O_TMPFILE | linux.O_EXCL | linux.O_TRUNC)
	return vfs.openResolved(ctx, creds, VirtualDentry{dir.mount, d}, &o, true)
}
