package kernel

import (
	"runtime"
	"sync"
	"weak"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/msgqueue"
	"appkernel.dev/appkernel/pkg/sentry/kernel/semaphore"
	"appkernel.dev/appkernel/pkg/sentry/kernel/shm"
)

// IPC namespaces (ipc_namespaces(7)). Each holds its own System V shared
// memory segments, semaphore sets and message queues, and the POSIX
// message queues the mqueue file system of the namespace shows.
//
// A task's namespace, and a process's SEM_UNDO list, live in side tables
// keyed by weak pointers (as the signalfd queues do), so tasks that never
// touch IPC pay nothing and the task structures need no new fields. A task
// without an entry is in its kernel's root namespace. Clone calls
// cloneIPC so that children inherit their parent's namespace, or get a new
// one with CLONE_NEWIPC; the last thread of a process to exit calls
// exitIPC, which applies the process's SEM_UNDO adjustments.
//
// Limits: none of this is checkpointed; a namespace's objects are
// released only when the garbage collector drops the namespace, and
// segments still hold memory-file pages until then.

// IPCNamespace is one IPC namespace.
type IPCNamespace struct {
	Shm *shm.Registry
	Sem *semaphore.Registry
	Msg *msgqueue.Registry

	// extMu guards ext.
	extMu sync.Mutex
	// ext holds per-namespace state of other packages (the POSIX message
	// queue file system), by key.
	ext map[any]any
}

// NewIPCNamespace returns an empty namespace for k.
func (k *Kernel) NewIPCNamespace() *IPCNamespace {
	return &IPCNamespace{
		Shm: shm.NewRegistry(k.MemoryFile),
		Sem: semaphore.NewRegistry(),
		Msg: msgqueue.NewRegistry(),
	}
}

// Extension returns the value stored under key, creating it with mk on
// first use. Packages that kernel cannot import (file systems) keep their
// per-namespace state here.
func (ns *IPCNamespace) Extension(key any, mk func() any) any {
	ns.extMu.Lock()
	defer ns.extMu.Unlock()
	if v, ok := ns.ext[key]; ok {
		return v
	}
	if ns.ext == nil {
		ns.ext = make(map[any]any)
	}
	v := mk()
	ns.ext[key] = v
	return v
}

// ipcTables are the side tables.
var ipcTables struct {
	// roots maps weak.Pointer[Kernel] to the kernel's root
	// *IPCNamespace.
	roots sync.Map
	// tasks maps weak.Pointer[Task] to *IPCNamespace for tasks outside
	// the root namespace, or that inherited an explicit one.
	tasks sync.Map
	// undos maps weak.Pointer[ThreadGroup] to *semaphore.UndoList.
	undos sync.Map
}

// storeWeak stores v under a weak pointer to p and removes it when p is
// collected.
func storeWeak[P any](m *sync.Map, p *P, v any) {
	k := weak.Make(p)
	if _, loaded := m.Swap(k, v); !loaded {
		runtime.AddCleanup(p, func(k weak.Pointer[P]) { m.Delete(k) }, k)
	}
}

// RootIPCNamespace returns the namespace of the sandbox's first process.
func (k *Kernel) RootIPCNamespace() *IPCNamespace {
	key := weak.Make(k)
	if v, ok := ipcTables.roots.Load(key); ok {
		return v.(*IPCNamespace)
	}
	v, loaded := ipcTables.roots.LoadOrStore(key, k.NewIPCNamespace())
	if !loaded {
		runtime.AddCleanup(k, func(key weak.Pointer[Kernel]) { ipcTables.roots.Delete(key) }, key)
	}
	return v.(*IPCNamespace)
}

// IPCNamespace returns t's IPC namespace.
func (t *Task) IPCNamespace() *IPCNamespace {
	if v, ok := ipcTables.tasks.Load(weak.Make(t)); ok {
		return v.(*IPCNamespace)
	}
	return t.k.RootIPCNamespace()
}

// setIPCNamespace moves t to ns.
func (t *Task) setIPCNamespace(ns *IPCNamespace) { storeWeak(&ipcTables.tasks, t, ns) }

// UnshareIPCNamespace implements unshare(CLONE_NEWIPC): t gets a new,
// empty namespace, and its process's SEM_UNDO adjustments are applied
// first, as the undo list belongs to the old one. It needs
// CAP_SYS_ADMIN.
func (t *Task) UnshareIPCNamespace() error {
	if !t.Credentials().HasCapability(linux.CAP_SYS_ADMIN) {
		return linux.EPERM
	}
	t.UnshareSemUndo()
	t.setIPCNamespace(t.k.NewIPCNamespace())
	return nil
}

// SemUndoList returns the SEM_UNDO list of t's process, creating it on
// first use.
func (t *Task) SemUndoList() *semaphore.UndoList {
	key := weak.Make(t.tg)
	if v, ok := ipcTables.undos.Load(key); ok {
		return v.(*semaphore.UndoList)
	}
	ul := semaphore.NewUndoList()
	if v, loaded := ipcTables.undos.LoadOrStore(key, ul); loaded {
		return v.(*semaphore.UndoList)
	}
	runtime.AddCleanup(t.tg, func(k weak.Pointer[ThreadGroup]) { ipcTables.undos.Delete(k) }, key)
	return ul
}

// UnshareSemUndo implements unshare(CLONE_SYSVSEM): the process's
// adjustments are applied and its list emptied. The list is per process,
// which is what Linux gives threads created with CLONE_SYSVSEM (as
// pthreads are).
func (t *Task) UnshareSemUndo() {
	if v, ok := ipcTables.undos.Load(weak.Make(t.tg)); ok {
		v.(*semaphore.UndoList).Exit(int32(t.ThreadGroupIDOf(t.tg)))
	}
}

// checkCloneIPC applies clone's rules for the IPC flags.
func (t *Task) checkCloneIPC(flags uint64) error {
	if flags&linux.CLONE_NEWIPC == 0 {
		return nil
	}
	if flags&linux.CLONE_SYSVSEM != 0 {
		return linux.EINVAL
	}
	if !t.Credentials().HasCapability(linux.CAP_SYS_ADMIN) {
		return linux.EPERM
	}
	return nil
}

// cloneIPC gives child its IPC namespace: a new one with CLONE_NEWIPC,
// else t's.
func (t *Task) cloneIPC(child *Task, flags uint64) {
	if flags&linux.CLONE_NEWIPC != 0 {
		child.setIPCNamespace(t.k.NewIPCNamespace())
		return
	}
	if v, ok := ipcTables.tasks.Load(weak.Make(t)); ok {
		child.setIPCNamespace(v.(*IPCNamespace))
	}
}

// exitIPCLocked runs when the last thread of tg has exited: the process's
// SEM_UNDO adjustments are applied. Requires tasksMu (the semaphore
// registry never takes it).
func (tg *ThreadGroup) exitIPCLocked() {
	if v, ok := ipcTables.undos.LoadAndDelete(weak.Make(tg)); ok {
		v.(*semaphore.UndoList).Exit(int32(tg.pidns.idOfThreadGroup(tg)))
	}
}
