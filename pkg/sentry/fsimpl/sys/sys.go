// Package sys is sysfs: the read-only /sys tree through which programs
// learn about the machine they run on. Runtimes size their thread pools
// from /sys/devices/system/cpu/online (glibc's sysconf and get_nprocs
// read it first), tune their allocators from
// /sys/kernel/mm/transparent_hugepage, and list network interfaces in
// /sys/class/net. Linux's sysfs mirrors the kernel's device model; this
// one is synthetic and holds what the sandbox can answer truthfully: the
// CPUs the Sentry was given, one NUMA node, the network interfaces the
// network stack reports, and empty directories where a container
// expects mount points (/sys/fs/cgroup) or the device model
// (/sys/devices/virtual, /sys/module).
//
// Files are generated when read from offset 0, as Linux's sysfs
// attributes are, and nothing in the tree can be written, created or
// removed.
package sys

import (
	"context"
	"strings"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/attrtree"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the filesystem type's name.
const Name = "sysfs"

// FilesystemType makes sysfs instances. Register one per kernel.
type FilesystemType struct {
	// NumCPUs is the number of CPUs the sandbox has: the CPUs shown are
	// 0 to NumCPUs-1, all online. Values below 1 mean 1.
	NumCPUs int
	// NetInterfaces lists the network interfaces /sys/class/net shows,
	// called on every lookup and listing so that interfaces may come
	// and go. Nil shows the loopback interface alone (see Loopback),
	// which every Linux network namespace has.
	NetInterfaces func() []NetInterface
}

// Name implements vfs.FilesystemType.
func (*FilesystemType) Name() string { return Name }

// GetFilesystem implements vfs.FilesystemType. sysfs takes no options;
// Linux's refuses unknown ones with EINVAL, and so does this one.
func (ft *FilesystemType) GetFilesystem(_ context.Context, vfsObj *vfs.VirtualFilesystem, _ *auth.Credentials, _ string, opts vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	for _, o := range strings.Split(opts.Data, ",") {
		if o != "" {
			return nil, nil, linux.EINVAL
		}
	}
	// Attribute files report a page as their size, as Linux's do: the
	// most one read can return.
	fs := &filesystem{ft: ft, tree: attrtree.Tree{
		DevMinor: vfsObj.GetAnonBlockDevMinor(), Created: time.Now().UnixNano(), FileSize: linux.PageSize,
	}}
	fs.vfsfs.Init(vfsObj, ft, fs)
	return &fs.vfsfs, fs.vfsfs.NewRootDentry(fs.newRoot()), nil
}

// filesystem is one sysfs instance.
type filesystem struct {
	vfsfs vfs.Filesystem
	ft    *FilesystemType
	// tree makes the nodes.
	tree attrtree.Tree

	// netMu guards netDevs. No other lock is taken under it.
	netMu sync.Mutex
	// netDevs holds the directory made for each interface name seen, so
	// that a name keeps its inode number while the interface exists.
	netDevs map[string]*netDevice
}

// StatFS implements vfs.FilesystemImpl.
func (fs *filesystem) StatFS(context.Context) (linux.Statfs, error) {
	return fs.tree.StatFS(linux.SYSFS_MAGIC), nil
}

func (fs *filesystem) numCPUs() int { return max(fs.ft.NumCPUs, 1) }

// newRoot builds the tree. The top-level directories are Linux's; those
// left empty are there because programs test for them (systemd checks
// /sys/fs/cgroup and /sys/module, udev-less tools /sys/devices/virtual,
// lsblk /sys/dev/block: the sandbox has no block device).
func (fs *filesystem) newRoot() *attrtree.Dir {
	root := fs.tree.NewStaticDir(nil)
	root.AddDir("block")
	root.AddDir("bus")
	class := root.AddDir("class")
	dev := root.AddDir("dev")
	dev.AddDir("block")
	dev.AddDir("char")
	devices := root.AddDir("devices")
	system := devices.AddDir("system")
	fs.addCPUDir(system)
	fs.addNodeDir(system)
	virtual := devices.AddDir("virtual")
	vnet := &virtualNet{fs: fs}
	vnet.self = fs.tree.NewDir(virtual.Dir(), vnet)
	virtual.Add("net", vnet.self)
	class.Add("net", fs.tree.NewDir(class.Dir(), &classNet{fs: fs, virtual: vnet}))
	root.AddDir("firmware")
	// The mount point of a cgroup filesystem, empty until there is one.
	root.AddDir("fs").AddDir("cgroup")
	fs.addTransparentHugepage(root.AddDir("kernel").AddDir("mm"))
	root.AddDir("module")
	root.AddDir("power")
	return root.Dir()
}

// addTransparentHugepage adds /sys/kernel/mm/transparent_hugepage. The
// memory manager backs no mapping with huge pages on its own, and
// madvise(MADV_HUGEPAGE) is accepted: Linux's "madvise" mode, the
// default of most distributions.
func (fs *filesystem) addTransparentHugepage(mm *attrtree.StaticDir) {
	thp := mm.AddDir("transparent_hugepage")
	thp.Add("enabled", fs.tree.NewConstFile("always [madvise] never\n"))
	thp.Add("defrag", fs.tree.NewConstFile("always defer defer+madvise [madvise] never\n"))
	// The size of a PMD mapping with 4 KiB pages, on amd64 and arm64.
	thp.Add("hpage_pmd_size", fs.tree.NewConstFile("2097152\n"))
}
