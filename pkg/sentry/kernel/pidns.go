package kernel

// ThreadID is a thread (or, for a leader, process) ID as seen in one PID
// namespace.
type ThreadID int32

// maxThreadID bounds TID allocation, like /proc/sys/kernel/pid_max's
// default on 64-bit Linux.
const maxThreadID = 4 << 20

// PIDNamespace maps IDs to tasks. Namespaces nest: a task has an ID in its
// own namespace and every ancestor namespace.
//
// All fields are guarded by Kernel.tasksMu.
//
// +stateify savable
type PIDNamespace struct {
	parent *PIDNamespace
	// last is the most recently allocated ID; allocation continues after
	// it and wraps, as Linux does, so IDs are not reused immediately.
	last   ThreadID
	tasks  map[ThreadID]*Task
	tids   map[*Task]ThreadID
	groups map[ThreadID]*ThreadGroup
	tgids  map[*ThreadGroup]ThreadID
	// init is the thread group of PID 1, which gets special signal and
	// reaping semantics. Nil until it exists.
	init *ThreadGroup
}

func newPIDNamespace(parent *PIDNamespace) *PIDNamespace {
	return &PIDNamespace{
		parent: parent,
		tasks:  make(map[ThreadID]*Task),
		tids:   make(map[*Task]ThreadID),
		groups: make(map[ThreadID]*ThreadGroup),
		tgids:  make(map[*ThreadGroup]ThreadID),
	}
}

// allocate picks the next free ID. Requires tasksMu held for writing.
func (ns *PIDNamespace) allocate() (ThreadID, bool) {
	for range maxThreadID {
		ns.last++
		if ns.last >= maxThreadID {
			// Linux restarts above the range reserved for early daemons.
			ns.last = 300
			if len(ns.tasks) == 0 {
				ns.last = 1
			}
		}
		if _, used := ns.tasks[ns.last]; !used {
			if _, used := ns.groups[ns.last]; !used {
				return ns.last, true
			}
		}
	}
	return 0, false
}

// IDOfTask returns t's TID in ns, or 0 if t is not visible in ns.
// Requires tasksMu held.
func (ns *PIDNamespace) idOfTask(t *Task) ThreadID { return ns.tids[t] }

// idOfThreadGroup returns tg's TGID in ns, or 0 if not visible.
func (ns *PIDNamespace) idOfThreadGroup(tg *ThreadGroup) ThreadID { return ns.tgids[tg] }
