// Package proc is procfs: the /proc tree of process and system
// information. Every file is generated when it is read from the kernel's
// live state (tasks, PID namespaces, address spaces, descriptor tables,
// the mount tree, the memory file); nothing is cached beyond one open
// file's current contents.
//
// An instance shows one PID namespace: the namespace of the task that
// mounts it, or the root namespace when the kernel mounts it at boot.
package proc

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the filesystem type's name.
const Name = "proc"

// SystemInfo is what /proc reports about the machine that the Sentry
// cannot learn itself once it is confined: the runtime gathers it on the
// host at start and hands it over.
type SystemInfo struct {
	// CPUInfo is the host's /proc/cpuinfo, shown as is.
	CPUInfo string
	// NumCPUs is the number of CPUs the sandbox may use (Cpus_allowed,
	// /proc/stat's per-CPU lines, uptime's idle time).
	NumCPUs int
	// MemTotal is the memory the sandbox may use, in bytes: its limit,
	// or the host's total memory when it has none.
	MemTotal uint64
	// OSRelease and KernelVersion are uname's release and version, which
	// /proc/sys/kernel/osrelease, version and /proc/version repeat.
	OSRelease, KernelVersion string
	// BootTime is when the sandbox kernel started (uptime, btime).
	BootTime time.Time
}

// FilesystemType makes procfs instances. Register one per kernel.
type FilesystemType struct {
	Kernel *kernel.Kernel
	Info   SystemInfo
	// MountNamespace is what mounts and mountinfo show. Tasks do not
	// carry a mount namespace yet; the sandbox has this one. Set it
	// before the application starts.
	MountNamespace *vfs.MountNamespace
	// bootID is /proc/sys/kernel/random/boot_id: fixed for the life of
	// the kernel, like Linux's.
	bootID string
}

// NewFilesystemType returns the procfs type for k.
func NewFilesystemType(k *kernel.Kernel, info SystemInfo) *FilesystemType {
	if info.NumCPUs < 1 {
		info.NumCPUs = 1
	}
	if info.BootTime.IsZero() {
		info.BootTime = time.Now()
	}
	return &FilesystemType{Kernel: k, Info: info, bootID: newUUID()}
}

// Name implements vfs.FilesystemType.
func (*FilesystemType) Name() string { return Name }

// GetFilesystem implements vfs.FilesystemType. procfs takes no options
// that change what it shows; Linux's hidepid= and subset= are refused
// rather than ignored.
func (ft *FilesystemType) GetFilesystem(ctx context.Context, vfsObj *vfs.VirtualFilesystem, creds *auth.Credentials, source string, opts vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	for _, o := range strings.Split(opts.Data, ",") {
		if o != "" {
			return nil, nil, linux.EINVAL
		}
	}
	ns := ft.Kernel.RootPIDNamespace()
	if t := kernel.TaskFromContext(ctx); t != nil {
		ns = t.ThreadGroup().ProcPIDNamespace()
	}
	fs := &filesystem{ft: ft, k: ft.Kernel, ns: ns, devMinor: vfsObj.GetAnonBlockDevMinor(), created: time.Now().UnixNano()}
	fs.vfsfs.Init(vfsObj, ft, fs)
	root := fs.newRoot()
	return &fs.vfsfs, fs.vfsfs.NewRootDentry(root), nil
}

// filesystem is one procfs instance.
type filesystem struct {
	vfsfs    vfs.Filesystem
	ft       *FilesystemType
	k        *kernel.Kernel
	ns       *kernel.PIDNamespace
	devMinor uint32
	// created is the timestamp every file shows.
	created int64
	// nextStaticIno numbers the files that do not belong to a task.
	nextStaticIno atomic.Uint64
}

// StatFS implements vfs.FilesystemImpl.
func (fs *filesystem) StatFS(context.Context) (linux.Statfs, error) {
	return linux.Statfs{
		Type:       linux.PROC_SUPER_MAGIC,
		BlockSize:  linux.PageSize,
		NameLength: linux.NAME_MAX,
		FSID:       [2]int32{int32(fs.devMinor), 0},
	}, nil
}

func (fs *filesystem) vfs() *vfs.VirtualFilesystem { return fs.vfsfs.VirtualFilesystem() }

// Inode numbers: files not tied to a task count up from 1; per-task files
// encode their kind, the task's ID in this instance's namespace and an
// index, so a name keeps its number across lookups and getdents agrees
// with stat.
const (
	inoSpacePID    = 1 // /proc/PID/x: id is the TGID
	inoSpaceTask   = 2 // /proc/PID/task/TID/x: id is the TID
	inoSpaceFD     = 3 // fd/N: index is N
	inoSpaceFDInfo = 4 // fdinfo/N
)

func taskIno(space uint64, id kernel.ThreadID, index uint64) uint64 {
	return space<<56 | uint64(uint32(id))<<24 | index&(1<<24-1)
}

func (fs *filesystem) staticIno() uint64 { return fs.nextStaticIno.Add(1) }

// newUUID returns a random (version 4) UUID in its text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// readerTask returns the task ctx acts for, or nil for the kernel itself.
func readerTask(ctx context.Context) *kernel.Task { return kernel.TaskFromContext(ctx) }

// readerCreds returns the credentials ctx acts with.
func readerCreds(ctx context.Context) *auth.Credentials {
	if c := auth.CredentialsFromContext(ctx); c != nil {
		return c
	}
	return auth.NewAnonymousCredentials()
}

// mayAccess is Linux's ptrace_may_access(PTRACE_MODE_READ_FSCREDS): what
// guards another process's environment, auxv, memory map, descriptors
// and magic links. A task may always look at its own process; otherwise
// the reader's filesystem IDs must match all of the target's user and
// group IDs and the target must have no capability the reader lacks,
// unless the reader has CAP_SYS_PTRACE.
func mayAccess(ctx context.Context, target *kernel.Task) bool {
	if r := readerTask(ctx); r != nil && r.ThreadGroup() == target.ThreadGroup() {
		return true
	}
	c := readerCreds(ctx)
	tc := target.Credentials()
	if tc == nil {
		return c.HasCapability(linux.CAP_SYS_PTRACE)
	}
	if c.HasCapabilityIn(linux.CAP_SYS_PTRACE, tc.UserNamespace) {
		return true
	}
	sameIDs := c.FSKUID == tc.RealKUID && c.FSKUID == tc.EffectiveKUID && c.FSKUID == tc.SavedKUID &&
		c.FSKGID == tc.RealKGID && c.FSKGID == tc.EffectiveKGID && c.FSKGID == tc.SavedKGID
	return sameIDs && tc.PermittedCaps&^c.PermittedCaps == 0
}
