package kernel

// UnshareFDTable gives t a private copy of its descriptor table, so that
// later changes are not seen by tasks that shared it
// (close_range(CLOSE_RANGE_UNSHARE), unshare(CLONE_FILES)). The copy
// shares the open files, as fork's does. Only the task goroutine may
// call it.
func (t *Task) UnshareFDTable() {
	old := t.fdTable
	t.fdTable = old.Fork()
	old.DecRef(t.Context())
}
