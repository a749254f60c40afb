package kernel

// realUID is the task's real UID, as wait reports it. Every task runs as
// root until credentials (kernel/auth) are attached to tasks.
func (t *Task) realUID() uint32 { return 0 }

// releaseResources drops what t holds that other tasks may share before
// it leaves its group: its reference on the address space (file table and
// fs context join when the VFS is wired to tasks).
func (t *Task) releaseResources() {
	if t.mm != nil {
		t.mm.DecUsers()
		t.mm = nil
		t.as = nil
	}
}
