package dev

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the filesystem type's name.
const Name = "devtmpfs"

// FilesystemType makes /dev trees: each instance is a new tmpfs holding
// the standard nodes.
//
// +stateify savable
type FilesystemType struct{}

// Name implements vfs.FilesystemType.
func (FilesystemType) Name() string { return Name }

type node struct {
	name         string
	mode         linux.FileMode
	major, minor uint32
	// target is a symlink's content.
	target string
}

// nodes are what a fresh /dev holds, as a container runtime sets it up.
var nodes = []node{
	{name: "null", mode: linux.S_IFCHR | 0666, major: MemDevMajor, minor: NullMinor},
	{name: "zero", mode: linux.S_IFCHR | 0666, major: MemDevMajor, minor: ZeroMinor},
	{name: "full", mode: linux.S_IFCHR | 0666, major: MemDevMajor, minor: FullMinor},
	{name: "random", mode: linux.S_IFCHR | 0666, major: MemDevMajor, minor: RandomMinor},
	{name: "urandom", mode: linux.S_IFCHR | 0666, major: MemDevMajor, minor: URandomMinor},
	{name: "tty", mode: linux.S_IFCHR | 0666, major: TTYMajor, minor: TTYMinor},
	{name: "fd", mode: linux.S_IFLNK, target: "/proc/self/fd"},
	{name: "stdin", mode: linux.S_IFLNK, target: "/proc/self/fd/0"},
	{name: "stdout", mode: linux.S_IFLNK, target: "/proc/self/fd/1"},
	{name: "stderr", mode: linux.S_IFLNK, target: "/proc/self/fd/2"},
	{name: "shm", mode: linux.S_IFDIR | 01777},
	{name: "pts", mode: linux.S_IFDIR | 0755},
}

// GetFilesystem implements vfs.FilesystemType. The options are tmpfs's
// (mode=0755 by default).
func (FilesystemType) GetFilesystem(ctx context.Context, vfsObj *vfs.VirtualFilesystem, creds *auth.Credentials, source string, opts vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	o, err := tmpfs.ParseOptions("mode=0755,"+opts.Data, creds)
	if err != nil {
		return nil, nil, err
	}
	fs, root := tmpfs.NewFilesystem(vfsObj, o)
	mnt := vfsObj.NewDisconnectedMount(fs, root, 0)
	vd := vfs.MakeVirtualDentry(mnt, root)
	// The nodes belong to the filesystem's owner, whoever mounts it.
	owner := auth.NewUserCredentials(o.RootUID, o.RootGID, nil, creds.UserNamespace)
	owner.EffectiveCaps = auth.AllCapabilities
	for _, n := range nodes {
		pop := &vfs.PathOperation{Root: vd, Start: vd, Path: n.name}
		var err error
		switch n.mode.FileType() {
		case linux.S_IFLNK:
			err = vfsObj.SymlinkAt(ctx, owner, pop, n.target)
		case linux.S_IFDIR:
			err = vfsObj.MkdirAt(ctx, owner, pop, n.mode.Permissions())
		default:
			err = vfsObj.MknodAt(ctx, owner, pop, vfs.CreateOptions{Mode: n.mode, DevMajor: n.major, DevMinor: n.minor})
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return fs, root, nil
}
