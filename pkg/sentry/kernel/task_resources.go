package kernel

import "appkernel.dev/appkernel/pkg/sentry/vfs"

// realUID is the task's real UID, as wait reports it. Every task runs as
// root until credentials (kernel/auth) are attached to tasks.
func (t *Task) realUID() uint32 { return 0 }

// releaseResources drops what t holds that other tasks may share before
// it leaves its group: its address space, file table and fs context.
func (t *Task) releaseResources() {
	if t.mm != nil {
		t.accountMaxRSS()
		if head := t.RobustList(); head != 0 {
			t.k.Futex.ExitRobustList(t.mm, head, int32(t.ThreadID()))
		}
		// CLONE_CHILD_CLEARTID: pthread_join waits on this word. Nobody
		// can be waiting when this was the address space's last user.
		if t.clearChildTID != 0 && t.mm.Users() > 1 {
			t.k.Futex.ClearChildTID(t.mm, t.clearChildTID)
		}
	}
	t.releaseVforkParent()
	t.mu.Lock()
	fdTable, fsContext, m, exe := t.fdTable, t.fsContext, t.mm, t.exe
	t.fdTable, t.fsContext, t.mm, t.exe = nil, nil, nil, vfs.VirtualDentry{}
	t.mu.Unlock()
	t.as = nil
	if fdTable != nil {
		fdTable.DecRef(t.Context())
	}
	if fsContext != nil {
		fsContext.DecRef()
	}
	if m != nil {
		m.DecUsers()
		t.k.aioDropReleased() // AIO: contexts die with their address space (aio.go)
	}
	if exe.Ok() {
		exe.DecRef()
	}
}
