package vfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// Inode is what a filesystem implements for each of its files. The VFS
// resolves paths and enforces the generic rules; an Inode answers for its
// own attributes and contents. Methods may be called concurrently; the
// implementation protects its own state.
type Inode interface {
	// Type returns the S_IF* bits of the file's mode. It never changes.
	Type() linux.FileMode
	// CheckPermission returns nil if creds may access the file as ats
	// asks, EACCES (or EPERM) otherwise. Most filesystems call
	// auth.CheckPermission with the file's current mode and owner.
	CheckPermission(ctx context.Context, creds *auth.Credentials, ats auth.AccessTypes) error
	// Stat returns the file's attributes; opts.Mask says which ones the
	// caller needs, and Statx.Mask which ones were filled.
	Stat(ctx context.Context, opts StatOptions) (linux.Statx, error)
	// SetStat changes attributes. Implementations call PrepareSetStat
	// with their current attributes, under the lock that guards them,
	// before applying opts.
	SetStat(ctx context.Context, creds *auth.Credentials, opts SetStatOptions) error
	// Open returns a new FileDescription for the file at vd, whose
	// dentry's inode is this one. Permission and flag checks are done.
	Open(ctx context.Context, vd VirtualDentry, opts OpenOptions) (*FileDescription, error)
}

// DirectoryInode is an Inode of type S_IFDIR. The VFS serializes
// modifying calls on one directory (it holds the directory's Dentry.mu),
// checks permissions on the directory and the kind of the children
// involved, and keeps its dentry cache in step with the results.
type DirectoryInode interface {
	Inode
	// Lookup returns the child called name, or ENOENT. name is never
	// "", "." or "..".
	Lookup(ctx context.Context, name string) (Inode, error)
	// Create makes a new child called name, which does not exist, of the
	// type and permissions in opts.Mode (the umask is already applied),
	// owned as creds dictate (see InitialOwner).
	Create(ctx context.Context, creds *auth.Credentials, name string, opts CreateOptions) (Inode, error)
	// Link adds name for target, which is a non-directory of the same
	// filesystem.
	Link(ctx context.Context, name string, target Inode) error
	// Unlink removes name, whose inode child is not a directory.
	Unlink(ctx context.Context, name string, child Inode) error
	// Rmdir removes name, whose inode child is a directory, or fails
	// with ENOTEMPTY.
	Rmdir(ctx context.Context, name string, child Inode) error
	// Rename moves oldName (inode child) to newName in newDir, which is
	// a DirectoryInode of the same filesystem. replaced is the inode now
	// at newName, or nil. flags may hold RENAME_EXCHANGE (replaced is
	// then non-nil and the two swap); RENAME_NOREPLACE is handled by the
	// VFS. The VFS has already checked kinds and that a directory is
	// not moved into itself; the implementation checks ENOTEMPTY.
	Rename(ctx context.Context, oldName string, child Inode, newDir DirectoryInode, newName string, replaced Inode, flags uint32) error
	// IterDirents calls cb for the entries at or after offset, in
	// offset order, including "." and "..", until cb returns an error,
	// which it returns. Offsets must stay valid across modifications of
	// the directory, so that a reader resuming at an offset neither
	// repeats nor skips entries that were there throughout.
	IterDirents(ctx context.Context, offset int64, cb IterDirentsCallback) error
}

// SymlinkInode is an Inode of type S_IFLNK.
type SymlinkInode interface {
	Inode
	Readlink(ctx context.Context) (string, error)
}

// MagicLinkInode is a symlink-like inode whose target is an object rather
// than a path (/proc/[pid]/fd/N, /proc/[pid]/cwd, ...). Path resolution
// jumps to the VirtualDentry it returns. RESOLVE_NO_MAGICLINKS refuses them.
type MagicLinkInode interface {
	SymlinkInode
	// GetLink returns the target, with a reference the caller drops.
	GetLink(ctx context.Context) (VirtualDentry, error)
}

// DentryRevalidator is implemented by directories whose contents can
// change without going through the VFS (remote or synthetic filesystems).
// A cached child for which Revalidate returns false is looked up again.
type DentryRevalidator interface {
	Revalidate(ctx context.Context, name string, child Inode) bool
}

// Dirent is one directory entry as IterDirents reports it.
type Dirent struct {
	Name string
	// Type is the DT_* value.
	Type uint8
	Ino  uint64
	// NextOff is the offset at which iteration resumes after this
	// entry: what getdents reports as d_off.
	NextOff int64
}

// IterDirentsCallback receives directory entries. Returning an error
// stops the iteration; the entry it was called with counts as not
// consumed.
type IterDirentsCallback func(d Dirent) error

// StatOptions are the arguments of a stat.
type StatOptions struct {
	// Mask is the STATX_* fields wanted; filesystems may fill more.
	Mask uint32
	// Sync is the AT_STATX_SYNC_TYPE bits.
	Sync uint32
}

// SetStatOptions are the attribute changes of chmod, chown, truncate and
// utimensat. Mask holds STATX_MODE, STATX_UID, STATX_GID, STATX_SIZE,
// STATX_ATIME and STATX_MTIME for the fields to change.
type SetStatOptions struct {
	Mask uint32
	// Mode holds permission bits only.
	Mode uint16
	UID  auth.KUID
	GID  auth.KGID
	Size uint64
	// Atime and Mtime may have Nsec UTIME_NOW; UTIME_OMIT fields are
	// removed from Mask by the caller.
	Atime linux.Timespec
	Mtime linux.Timespec
	// CtimeOnly is set when only ctime should change (internal use).
	CtimeOnly bool
}

// CreateOptions describe a new file.
type CreateOptions struct {
	// Mode is the S_IF* type plus permission bits, after the umask.
	Mode linux.FileMode
	// DevMajor and DevMinor are the device number of S_IFCHR/S_IFBLK.
	DevMajor, DevMinor uint32
	// Target is the content of a new symlink.
	Target string
}

// OpenOptions are the arguments of open.
type OpenOptions struct {
	// Flags are the O_* flags.
	Flags uint32
	// Mode is the permission bits of a file O_CREAT creates, after the
	// umask.
	Mode linux.FileMode
}
