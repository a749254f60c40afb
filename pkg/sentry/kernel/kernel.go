// Package kernel is the core of the Sentry: tasks, thread groups, PID
// namespaces, signals, futexes, timers, credentials and scheduling, and the
// per-architecture system call tables that route an application's syscalls
// to their handlers.
package kernel

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/futex"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Kernel is one sandbox's kernel: every task, thread group and namespace
// hangs off it.
//
// +stateify savable
type Kernel struct {
	// Platform runs application code. Rebuilt on restore.
	Platform platform.Platform // +state:nosave

	// SyscallTable dispatches system calls for the host architecture.
	SyscallTable *SyscallTable // +state:nosave

	// VFS is the sandbox's file system.
	VFS *vfs.VirtualFilesystem
	// MemoryFile backs all application memory.
	MemoryFile *pgalloc.MemoryFile // +state:nosave
	// Futex holds every futex wait queue of the sandbox.
	Futex *futex.Manager
	// Host describes the machine for the loader and uname.
	Host HostInfo
	// VDSO is mapped into every new program; nil for none.
	VDSO *VDSO // +state:nosave

	// Sockets creates the sockets of each address family the sandbox's
	// network mode offers; registered at boot.
	Sockets socket.Families // +state:nosave

	// strace logs every syscall in strace's format; runsc debug
	// --strace turns it on and off while tasks run.
	strace atomic.Bool `state:"nosave"`

	// noSyscallPatch turns syscall patching off (SetSyscallPatching).
	noSyscallPatch bool `state:"nosave"`

	// pause freezes the tasks for `runsc pause`.
	pause pauseState `state:"nosave"`

	// tasksMu guards the task tree: parent/child links, thread group
	// membership, PID namespace maps, and each task's exit state. It is
	// taken before any thread group's signalMu.
	tasksMu sync.RWMutex `state:"nosave"`
	// exitedCPU is the CPU time of every task that has exited; guarded
	// by tasksMu.
	exitedCPU Usage

	rootPIDNS *PIDNamespace
	// commandSession is the root-namespace session ID of a `runsc do`
	// command (RootProcessAsCommand), 0 otherwise. Guarded by tasksMu.
	commandSession ThreadID

	// liveTasks counts tasks that have not been reaped, so the sandbox
	// knows when its last task is gone.
	liveTasks int
	// extrasField holds the UTS names and default rlimits
	// (task_extras.go).
	extrasField atomic.Pointer[kernelExtras] `state:"nosave"`

	// ttySessions maps a session (root-namespace ID) to its controlling
	// terminal (tty.go). Guarded by tasksMu.
	ttySessions map[ThreadID]*sessionTTY `state:"nosave"`

	// rootExitStatus is how the sandbox's first process ended.
	rootExitStatus linux.WaitStatus
	// allGone is closed when liveTasks drops to zero after start.
	allGone chan struct{} `state:"nosave"`

	// loadAvg counts active tasks and keeps the load averages
	// (loadavg.go).
	loadAvg loadAvg `state:"nosave"`

	// aio holds the AIO contexts of every address space (aio.go).
	aio aioState `state:"nosave"` // AIO
}

// NewKernel returns a kernel that runs application code on p.
func NewKernel(p platform.Platform, table *SyscallTable) *Kernel {
	return &Kernel{
		Platform:     p,
		SyscallTable: table,
		rootPIDNS:    newPIDNamespace(nil),
		Futex:        futex.NewManager(),
		allGone:      make(chan struct{}),
	}
}

// RootPIDNamespace is the namespace of the sandbox's init.
func (k *Kernel) RootPIDNamespace() *PIDNamespace { return k.rootPIDNS }

// AllTasksExited returns a channel closed when every task has exited and
// been reaped.
func (k *Kernel) AllTasksExited() <-chan struct{} { return k.allGone }

// RootExitStatus is the wait status of the sandbox's first process, valid
// once it has exited.
func (k *Kernel) RootExitStatus() linux.WaitStatus {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	return k.rootExitStatus
}

// HostInfo is what the kernel tells programs about the machine.
//
// +stateify savable
type HostInfo struct {
	// HWCap and HWCap2 are the host's AT_HWCAP values, read at start.
	HWCap, HWCap2 uint64
	// MinSigStackSize is AT_MINSIGSTKSZ.
	MinSigStackSize uint64
	// Hostname and Domainname are the UTS names.
	Hostname, Domainname string
	// Randomize enables address space layout randomization.
	Randomize bool
}

// SetStrace turns syscall logging in strace's format on or off.
func (k *Kernel) SetStrace(on bool) { k.strace.Store(on) }

// StraceEnabled reports whether syscalls are being logged.
func (k *Kernel) StraceEnabled() bool { return k.strace.Load() }
