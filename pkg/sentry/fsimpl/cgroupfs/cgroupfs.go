// Package cgroupfs is a read-only cgroup v2 filesystem ("cgroup2") that
// shows a container its own cgroup, as a cgroup namespace would: one
// directory, the root, with the interface files of the cpu, memory and
// pids controllers.
//
// It is there so that programs which size themselves from their cgroup
// find their limits: the JVM sets its heap from memory.max and its CPU
// count from cpu.max, Go's runtime sets GOMAXPROCS from cpu.max, libuv
// and .NET read memory.max. They find the cgroup through
// /proc/self/mountinfo (a mount of type "cgroup2") and /proc/self/cgroup
// ("0::/"). The limits are the container's, as its OCI spec set them
// (Limits); usage (memory.current, cpu.stat, pids.current) is the
// sandbox's, which is the container's own.
//
// The sandbox enforces none of these limits itself (the host's cgroup
// around the sandbox does), and nothing here can be written: cgroups
// cannot be created, processes cannot be moved, and limits cannot be
// changed. Files are generated when read from offset 0, as kernfs
// generates Linux's.
package cgroupfs

import (
	"context"
	"strings"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/attrtree"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the filesystem type's name.
const Name = "cgroup2"

// FilesystemType makes cgroup2 mounts. Register one per kernel. As on
// Linux, there is one cgroup2 hierarchy: every mount shows the same
// instance.
type FilesystemType struct {
	// Kernel is the sandbox whose tasks and usage the files show.
	Kernel *kernel.Kernel
	// Limits are the container's cgroup limits.
	Limits Limits

	// mu guards fs and root, the instance, made by the first mount.
	mu   sync.Mutex
	fs   *filesystem
	root *vfs.Dentry
}

// Name implements vfs.FilesystemType.
func (*FilesystemType) Name() string { return Name }

// mountOptions are the options Linux's cgroup2 takes. They change how a
// hierarchy that can be modified behaves; this one cannot be, so they
// are accepted and have no effect.
var mountOptions = map[string]bool{
	"nsdelegate": true, "favordynmods": true, "memory_localevents": true,
	"memory_recursiveprot": true, "memory_hugetlb_accounting": true, "pids_localevents": true,
}

// GetFilesystem implements vfs.FilesystemType. Unknown options fail
// with EINVAL, as on Linux.
func (ft *FilesystemType) GetFilesystem(_ context.Context, vfsObj *vfs.VirtualFilesystem, _ *auth.Credentials, _ string, opts vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	for _, o := range strings.Split(opts.Data, ",") {
		if o != "" && !mountOptions[o] {
			return nil, nil, linux.EINVAL
		}
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.fs == nil {
		fs := &filesystem{ft: ft, tree: attrtree.Tree{DevMinor: vfsObj.GetAnonBlockDevMinor(), Created: time.Now().UnixNano()}}
		fs.vfsfs.Init(vfsObj, ft, fs)
		ft.fs, ft.root = fs, fs.vfsfs.NewRootDentry(fs.newRoot())
	}
	return &ft.fs.vfsfs, ft.root, nil
}

// filesystem is the cgroup2 instance.
type filesystem struct {
	vfsfs vfs.Filesystem
	ft    *FilesystemType
	// tree makes the nodes. Files report size 0, as kernfs's do.
	tree attrtree.Tree
}

// StatFS implements vfs.FilesystemImpl.
func (fs *filesystem) StatFS(context.Context) (linux.Statfs, error) {
	return fs.tree.StatFS(linux.CGROUP2_SUPER_MAGIC), nil
}
