package kernel

import (
	"context"
	"runtime"
	"sync"
	"weak"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Process file descriptors (pidfd_open(2), CLONE_PIDFD): a file that
// names a process, for signalling it (pidfd_send_signal), taking a copy of
// one of its descriptors (pidfd_getfd), waiting for it (waitid P_PIDFD),
// and polling for its exit: a pidfd is readable once the process has
// exited, and also hung up once it has been reaped.
//
// Pollers wait on a per-process queue in a side table keyed by a weak
// pointer to the thread group (like the signalfd queues), notified by
// notifyPidfdsLocked when the process becomes a zombie and when it is
// reaped.

var pidfdQueues sync.Map // weak.Pointer[ThreadGroup] -> *waiter.Queue

// pidfdQueue returns tg's queue, creating it on first use.
func (tg *ThreadGroup) pidfdQueue() *waiter.Queue {
	k := weak.Make(tg)
	if q, ok := pidfdQueues.Load(k); ok {
		return q.(*waiter.Queue)
	}
	q, loaded := pidfdQueues.LoadOrStore(k, &waiter.Queue{})
	if !loaded {
		runtime.AddCleanup(tg, func(k weak.Pointer[ThreadGroup]) { pidfdQueues.Delete(k) }, k)
	}
	return q.(*waiter.Queue)
}

// notifyPidfdsLocked wakes tg's pidfd pollers after it exited or was
// reaped. Listeners take only waiter and epoll locks, so tasksMu may be
// held.
func (tg *ThreadGroup) notifyPidfdsLocked() {
	if q, ok := pidfdQueues.Load(weak.Make(tg)); ok {
		q.(*waiter.Queue).Notify(waiter.EventIn | waiter.EventHUp)
	}
}

// pidFD is the implementation of a pidfd.
type pidFD struct {
	vfs.FileDescriptionDefaultImpl
	tg *ThreadGroup
}

// NewPidFD returns a pidfd for tg; flags may hold O_NONBLOCK
// (PIDFD_NONBLOCK), which only waitid(P_PIDFD) consults.
func (k *Kernel) NewPidFD(tg *ThreadGroup, flags uint32) *vfs.FileDescription {
	fd := &vfs.FileDescription{}
	fd.Init(&pidFD{tg: tg}, linux.O_RDWR|flags&linux.O_NONBLOCK, k.VFS.NewAnonVirtualDentry("pidfd"), &vfs.FileDescriptionOptions{Stream: true})
	return fd
}

// PidFDThreadGroup returns the process file names, or nil if it is not a
// pidfd.
func PidFDThreadGroup(file *vfs.FileDescription) *ThreadGroup {
	if p, ok := file.Impl().(*pidFD); ok {
		return p.tg
	}
	return nil
}

// Readiness implements waiter.Waitable.
func (p *pidFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	k := p.tg.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	var r waiter.EventMask
	if p.tg.zombie || p.tg.reaped {
		r |= waiter.EventIn
	}
	if p.tg.reaped {
		r |= waiter.EventHUp
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (p *pidFD) EventRegister(e *waiter.Entry) error {
	p.tg.pidfdQueue().EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (p *pidFD) EventUnregister(e *waiter.Entry) { p.tg.pidfdQueue().EventUnregister(e) }

// Read implements vfs.FileDescriptionImpl: a pidfd has no data.
func (p *pidFD) Read(context.Context, vfs.IOSequence, int64, vfs.ReadOptions) (int64, error) {
	return 0, linux.EINVAL
}

// Write implements vfs.FileDescriptionImpl.
func (p *pidFD) Write(context.Context, vfs.IOSequence, int64, vfs.WriteOptions) (int64, int64, error) {
	return 0, 0, linux.EINVAL
}

// PidFDOpen implements pidfd_open(2)'s lookup: the process whose TGID in
// t's namespace is pid. A live thread that does not lead its process is
// ENOENT, as since Linux 6.9 (PIDFD_THREAD, which would open it, is not
// supported), a free ID ESRCH.
func (t *Task) PidFDOpen(pid ThreadID) (*ThreadGroup, error) {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	target := t.tg.pidns.tasks[pid]
	if target == nil {
		return nil, linux.ESRCH
	}
	if target.tg.leader != target {
		return nil, linux.ENOENT
	}
	return target.tg, nil
}

// SignalThreadGroup implements pidfd_send_signal: kill's permission rule
// and delivery to tg, which must not have been reaped (ESRCH). As on
// Linux, a zombie's signals are accepted and discarded.
func (t *Task) SignalThreadGroup(tg *ThreadGroup, info *linux.SignalInfo) error {
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	if tg.reaped {
		return linux.ESRCH
	}
	return t.sendCheckedLocked(tg.leader, info, true)
}

// IsSameThreadGroup reports whether tg is t's process.
func (t *Task) IsSameThreadGroup(tg *ThreadGroup) bool { return t.tg == tg }

// ThreadGroupFile implements pidfd_getfd's access to another process's
// descriptor: the file at fd in tg's table, with a reference. Linux's
// PTRACE_MODE_ATTACH_REALCREDS rule is approximated: t's own process, or
// CAP_SYS_PTRACE. An exited process is ESRCH, a closed fd EBADF.
func (t *Task) ThreadGroupFile(tg *ThreadGroup, fd int32) (*vfs.FileDescription, error) {
	if tg != t.tg && !t.Credentials().HasCapability(linux.CAP_SYS_PTRACE) {
		return nil, linux.EPERM
	}
	t.k.tasksMu.RLock()
	var member *Task
	if !tg.zombie && !tg.reaped {
		for m := range tg.tasks {
			member = m
			break
		}
	}
	t.k.tasksMu.RUnlock()
	if member == nil {
		return nil, linux.ESRCH
	}
	table := member.ProcFDTable()
	if table == nil {
		return nil, linux.ESRCH
	}
	file, _ := table.Get(fd)
	if file == nil {
		return nil, linux.EBADF
	}
	return file, nil
}

// installClonePidFD implements CLONE_PIDFD: a pidfd for the child's
// process goes into t's table, close-on-exec, and its number to addr.
func (t *Task) installClonePidFD(child *Task, addr uintptr) (int32, error) {
	file := t.k.NewPidFD(child.tg, 0)
	defer file.DecRef(t.Context())
	fd, err := t.fdTable.NewFD(t.Context(), 0, file, vfs.FDFlags{CloseOnExec: true})
	if err != nil {
		return -1, err
	}
	var b [4]byte
	b[0], b[1], b[2], b[3] = byte(fd), byte(fd>>8), byte(fd>>16), byte(fd>>24)
	if _, err := t.mm.CopyOut(addr, b[:]); err != nil {
		if f := t.fdTable.Remove(fd); f != nil {
			f.DecRef(t.Context())
		}
		return -1, linux.EFAULT
	}
	return fd, nil
}
