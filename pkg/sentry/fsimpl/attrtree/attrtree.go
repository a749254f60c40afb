// Package attrtree holds the inodes of synthetic, read-only attribute
// filesystems such as sysfs and cgroupfs: directories whose entries are
// fixed at mount or listed on demand, files whose text is generated when
// read from offset 0 (as Linux's sysfs and kernfs attributes are), and
// symlinks within the tree. The filesystems that use it decide what the
// tree holds; this package gives them one implementation of the VFS
// inode and file description interfaces, so that each does not carry its
// own copy.
//
// Nothing in a tree can be written, created, removed or renamed.
package attrtree

import (
	"context"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Tree is what the nodes of one filesystem instance share. Its fields
// are set before the first node is made and do not change.
type Tree struct {
	// DevMinor is the anonymous device minor number stat reports.
	DevMinor uint32
	// Created is the timestamp every node shows, in nanoseconds since
	// the epoch.
	Created int64
	// FileSize is the size regular files report: sysfs reports a page,
	// the most one read of an attribute returns; kernfs's cgroup files
	// report 0.
	FileSize uint64

	// nextIno numbers nodes as they are made.
	nextIno atomic.Uint64
}

func (t *Tree) ino() uint64 { return t.nextIno.Add(1) }

// StatFS returns what statfs(2) reports of the tree's filesystem, whose
// magic number is magic: no blocks or inodes to count.
func (t *Tree) StatFS(magic int64) linux.Statfs {
	return linux.Statfs{
		Type:       magic,
		BlockSize:  linux.PageSize,
		NameLength: linux.NAME_MAX,
		FSID:       [2]int32{int32(t.DevMinor), 0},
	}
}

// attrs is what every node has: fixed attributes, owned by root.
type attrs struct {
	tree *Tree
	ino  uint64
	mode linux.FileMode
}

func (t *Tree) newAttrs(mode linux.FileMode) attrs {
	return attrs{tree: t, ino: t.ino(), mode: mode}
}

// Type implements vfs.Inode.
func (a *attrs) Type() linux.FileMode { return a.mode.FileType() }

// Ino returns the node's inode number.
func (a *attrs) Ino() uint64 { return a.ino }

// CheckPermission implements vfs.Inode.
func (a *attrs) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	return auth.CheckPermission(creds, a.mode, auth.RootKUID, auth.RootKGID, ats)
}

// stat fills what every kind of node shares.
func (a *attrs) stat(nlink uint32) linux.Statx {
	ts := linux.StatxTimestamp{Sec: a.tree.Created / 1e9, Nsec: uint32(a.tree.Created % 1e9)}
	var size uint64
	if a.mode.FileType() == linux.S_IFREG {
		size = a.tree.FileSize
	}
	return linux.Statx{
		Mask:     linux.STATX_BASIC_STATS,
		Blksize:  linux.PageSize,
		Nlink:    nlink,
		Mode:     uint16(a.mode),
		Ino:      a.ino,
		Size:     size,
		Atime:    ts,
		Mtime:    ts,
		Ctime:    ts,
		DevMinor: a.tree.DevMinor,
	}
}

// Stat implements vfs.Inode.
func (a *attrs) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	return a.stat(1), nil
}

// SetStat implements vfs.Inode: no node's attributes can change.
func (a *attrs) SetStat(context.Context, *auth.Credentials, vfs.SetStatOptions) error {
	return linux.EPERM
}

// Ino returns the inode number of a node of any tree, 0 for an inode
// of another kind.
func Ino(n vfs.Inode) uint64 {
	if a, ok := n.(interface{ Ino() uint64 }); ok {
		return a.Ino()
	}
	return 0
}
