package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/loader"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Task is one application thread. Its goroutine (task_run.go) alternates
// between running application code on the platform and handling what
// stopped it.
//
// Fields without a lock comment are owned by the task goroutine: only it
// reads or writes them once the task has started.
//
// +stateify savable
type Task struct {
	k  *Kernel
	tg *ThreadGroup

	// ac is the thread's register state while it is not running.
	ac *arch.Context
	// pc runs the thread. Created on the task goroutine; rebuilt on
	// restore.
	pc platform.Context `state:"nosave"`
	// asleep is set while the task goroutine is parked (accountPark to
	// accountUnpark), which /proc reports as sleeping rather than
	// running. A restored task is running until it parks again.
	asleep atomic.Bool `state:"nosave"`

	// The fields below are guarded by Kernel.tasksMu.

	// parent is the task that created this one with clone (for a thread
	// group, the leader's parent is the process's parent).
	parent   *Task
	children map[*Task]bool
	// exitState records how far the task has got through exit.
	exitState taskExitState

	// The fields below are guarded by tg.signalMu.

	// mask is the set of blocked signals.
	mask linux.SignalSet
	// savedMask is restored after the next signal handler returns, for
	// sigsuspend/ppoll/pselect, when haveSavedMask.
	savedMask     linux.SignalSet
	haveSavedMask bool
	// waitMask is the mask from before a sigtimedwait, while it waits
	// with the waited signals unblocked (Linux's real_blocked): a signal
	// blocked there is not ignored.
	waitMask linux.SignalSet
	// pending holds thread-directed signals.
	pending pendingSignals
	// killed is set by SIGKILL or group exit: the task must exit at its
	// next chance.
	killed bool

	// altStack is the sigaltstack state.
	altStack linux.SignalStack

	// interruptCh wakes the task from Block; buffered so a wake-up is
	// never lost between a check and a block.
	interruptCh chan struct{} `state:"nosave"`

	// credsMu guards creds, the task's credentials. A Credentials value
	// is replaced, never mutated, so a reader may keep the pointer.
	credsMu sync.Mutex `state:"nosave"`
	creds   *auth.Credentials
	// mu guards the pointers below that execve and exit replace
	// (fdTable, fsContext, image, exe, mm) against readers on other
	// goroutines such as /proc. The task goroutine reads them without it.
	mu sync.Mutex `state:"nosave"`

	// fdTable and fsContext are shared per CLONE_FILES / CLONE_FS.
	fdTable   *vfs.FDTable
	fsContext *FSContext

	// exitRequested is set by exit(2): this thread alone exits with
	// exitRequestedStatus at its next return to the run loop.
	exitRequested       bool
	exitRequestedStatus linux.WaitStatus

	// image describes the running program (for /proc: exe, cmdline,
	// auxv).
	image *loader.Result `state:"nosave"`
	// exe is the running program's file (/proc/pid/exe), with a
	// reference.
	exe vfs.VirtualDentry `state:"nosave"`
	// vforkDone, when not nil, is closed when this task execs or exits,
	// releasing a parent blocked in vfork.
	vforkDone chan struct{} `state:"nosave"`

	// mm is the address space; threads share one.
	mm *mm.MemoryManager
	// as caches mm's platform address space for Switch.
	as platform.AddressSpace `state:"nosave"`
	// retriedFault is the address of a fault of unknown access that
	// found its page already mapped and was run again (task_mm.go), 0
	// after any other fault; faultRetries counts the runs.
	retriedFault uintptr `state:"nosave"`
	faultRetries int     `state:"nosave"`
	// lastFault is the hardware detail of the last fault, for signal
	// frames.
	lastFault arch.FaultContext

	// syscallState is the syscall being handled (number and original
	// arguments), kept for restarting it.
	syscallState arch.SyscallState
	// restartErrno is the ERESTART* code of an interrupted syscall until
	// signal delivery decides between restarting it and EINTR.
	restartErrno linux.Errno

	// extrasField and attrsField hold per-thread state of the resource,
	// scheduling and prctl syscalls (task_extras.go, task_attrs.go).
	extrasField atomic.Pointer[taskExtras] `state:"nosave"`
	attrsField  atomic.Pointer[taskAttrs]  `state:"nosave"`
	// seccompField is the task's seccomp mode and filters, nil when it
	// has none (seccomp.go).
	seccompField atomic.Pointer[taskSeccomp] `state:"nosave"`
	// rseq is t's rseq(2) registration, nil without one (task_rseq.go).
	// Written by the task goroutine; membarrier reads it.
	rseq atomic.Pointer[taskRseq] `state:"nosave"`

	// usage accounts CPU time spent by this task. Written by the task
	// goroutine, read by others under tasksMu after the task exited.
	usage Usage
	// lastAccount is when usage was last brought up to date.
	lastAccount time.Time `state:"nosave"`

	// clearChildTID is set_tid_address's pointer: zeroed and futex-woken
	// at exit.
	clearChildTID uintptr

	// ptraceFlags is nonzero while t is traced (ptrace.go); the syscall
	// path and run loop test it alone when t is not.
	ptraceFlags atomic.Uint32 `state:"nosave"`
	// ptrace is t's state as a tracer and as a tracee (ptrace.go).
	ptrace taskPtrace `state:"nosave"`
}

// taskExitState is how far a task is through exit.
type taskExitState int

const (
	taskRunning taskExitState = iota
	// taskExiting: exit has begun; the task no longer runs application
	// code.
	taskExiting
	// taskDead: the task has released its resources and left its thread
	// group.
	taskDead
)

// Kernel returns the kernel t runs in.
func (t *Task) Kernel() *Kernel { return t.k }

// ThreadGroup returns t's process.
func (t *Task) ThreadGroup() *ThreadGroup { return t.tg }

// Arch returns t's register state. Only the task goroutine may use it.
func (t *Task) Arch() *arch.Context { return t.ac }

// ThreadID returns t's TID in its own PID namespace.
func (t *Task) ThreadID() ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.tg.pidns.idOfTask(t)
}

// IsLeader reports whether t leads its thread group.
func (t *Task) IsLeader() bool { return t.tg.leader == t }
