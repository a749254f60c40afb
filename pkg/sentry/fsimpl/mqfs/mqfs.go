// Package mqfs is the mqueue file system: POSIX message queues
// (mq_overview(7)) as files in a flat directory, one instance per IPC
// namespace. mq_open and mq_unlink work on the namespace's instance
// whether or not it is mounted; mounting "mqueue" (the sandbox mounts it
// at /dev/mqueue) shows the same queues. Reading a queue file gives its
// status line, and queue files are pollable: readable while messages
// wait, writable while there is room.
//
// Limits: queues and messages are not checkpointed; RLIMIT_MSGQUEUE is
// not enforced; the /proc/sys/fs/mqueue limits are the Linux defaults and
// fixed; SIGEV_THREAD notification (which needs a netlink socket the
// kernel writes to) fails with ENOSYS, as glibc reports when it cannot
// set that socket up.
package mqfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the filesystem type's name.
const Name = "mqueue"

// The namespace limits: /proc/sys/fs/mqueue's defaults.
const (
	QueuesMax      = linux.DFLT_QUEUESMAX
	MsgMax         = linux.DFLT_MSGMAX
	MsgSizeMax     = linux.DFLT_MSGSIZEMAX
	MsgDefault     = linux.DFLT_MSGMAX
	MsgSizeDefault = linux.DFLT_MSGSIZEMAX
)

// FilesystemType makes mqueue mounts: each shows the instance of the
// mounter's IPC namespace.
type FilesystemType struct {
	// Kernel supplies the root IPC namespace for mounts made on no
	// task's behalf (the sandbox's own mounts at boot).
	Kernel *kernel.Kernel
}

// Name implements vfs.FilesystemType.
func (FilesystemType) Name() string { return Name }

// GetFilesystem implements vfs.FilesystemType.
func (ft FilesystemType) GetFilesystem(ctx context.Context, vfsObj *vfs.VirtualFilesystem, _ *auth.Credentials, _ string, _ vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	var ns *kernel.IPCNamespace
	if t := kernel.TaskFromContext(ctx); t != nil {
		ns = t.IPCNamespace()
	} else if ft.Kernel != nil {
		ns = ft.Kernel.RootIPCNamespace()
	} else {
		return nil, nil, linux.EINVAL
	}
	r := RegistryOf(vfsObj, ns)
	return r.fs.vfsfs, r.root, nil
}

// Registry is the mqueue instance of one IPC namespace.
type Registry struct {
	fs   *filesystem
	root *vfs.Dentry
	// mnt is an internal mount of the instance, from which mq_open and
	// mq_unlink resolve names (Linux's ipc_ns->mq_mnt).
	mnt *vfs.Mount
}

type registryKey struct{}

// RegistryOf returns ns's instance, made on first use.
func RegistryOf(vfsObj *vfs.VirtualFilesystem, ns *kernel.IPCNamespace) *Registry {
	return ns.Extension(registryKey{}, func() any {
		fs := &filesystem{vfsfs: &vfs.Filesystem{}, devMinor: vfsObj.GetAnonBlockDevMinor()}
		fs.vfsfs.Init(vfsObj, FilesystemType{}, fs)
		fs.rootDir = &directory{entries: make(map[string]*queueInode)}
		fs.rootDir.init(fs, linux.S_IFDIR, 0, 0, 01777)
		fs.rootDir.ino, fs.nextIno = 1, 1
		r := &Registry{fs: fs, root: fs.vfsfs.NewRootDentry(fs.rootDir)}
		r.mnt = vfsObj.NewDisconnectedMount(fs.vfsfs, r.root, linux.MS_NOSUID|linux.MS_NODEV|linux.MS_NOEXEC)
		return r
	}).(*Registry)
}

// Root returns the internal mount's root, for resolving queue names.
func (r *Registry) Root() vfs.VirtualDentry { return vfs.MakeVirtualDentry(r.mnt, r.root) }

// filesystem is one instance.
type filesystem struct {
	vfsfs    *vfs.Filesystem
	devMinor uint32
	rootDir  *directory
	nextIno  uint64 // guarded by rootDir.mu
}

// StatFS implements vfs.FilesystemImpl.
func (fs *filesystem) StatFS(context.Context) (linux.Statfs, error) {
	return linux.Statfs{
		Type:         linux.MQUEUE_MAGIC,
		BlockSize:    linux.PageSize,
		FragmentSize: linux.PageSize,
		NameLength:   linux.NAME_MAX,
		FSID:         [2]int32{int32(fs.devMinor), 0},
	}, nil
}

// createAttrKey is the context key of the attributes mq_open asks a new
// queue to have.
type createAttrKey struct{}

// attrContext carries mq_open's attributes to directory.Create through
// the VFS's open path.
type attrContext struct {
	context.Context
	attr *linux.MqAttr
}

func (c attrContext) Value(k any) any {
	if k == (createAttrKey{}) {
		return c.attr
	}
	return c.Context.Value(k)
}

// CheckAttr validates the attributes of a new queue as Linux's
// mq_attr_ok does: positive, and within the namespace's limits, or the
// hard limits with CAP_SYS_RESOURCE.
func CheckAttr(creds *auth.Credentials, a *linux.MqAttr) error {
	if a.MaxMsg <= 0 || a.MsgSize <= 0 {
		return linux.EINVAL
	}
	if creds.HasCapability(linux.CAP_SYS_RESOURCE) {
		if a.MaxMsg > linux.HARD_MSGMAX || a.MsgSize > linux.HARD_MSGSIZEMAX {
			return linux.EINVAL
		}
	} else if a.MaxMsg > MsgMax || a.MsgSize > MsgSizeMax {
		return linux.EINVAL
	}
	return nil
}
