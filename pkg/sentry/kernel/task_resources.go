package kernel

// realUID is the task's real UID, as wait reports it. Every task runs as
// root until credentials (kernel/auth) are attached to tasks.
func (t *Task) realUID() uint32 { return 0 }

// releaseResources drops what t holds that other tasks may share before
// it leaves its group: its address space, file table and fs context.
func (t *Task) releaseResources() {
	if t.clearChildTID != 0 && t.mm != nil {
		// CLONE_CHILD_CLEARTID: pthread_join waits on this word.
		var zero [4]byte
		t.mm.CopyOut(t.clearChildTID, zero[:])
		t.k.futexWake(t, t.clearChildTID)
	}
	t.releaseVforkParent()
	if t.fdTable != nil {
		t.fdTable.DecRef(t.Context())
		t.fdTable = nil
	}
	if t.fsContext != nil {
		t.fsContext.DecRef()
		t.fsContext = nil
	}
	if t.mm != nil {
		t.mm.DecUsers()
		t.mm = nil
		t.as = nil
	}
}

// futexWake wakes one waiter on the futex word at addr of t's address
// space. Futexes arrive with the futex manager; until then nothing can be
// waiting.
func (k *Kernel) futexWake(t *Task, addr uintptr) {}
