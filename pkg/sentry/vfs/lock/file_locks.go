package lock

// FileLocks are all the locks of one inode.
type FileLocks struct {
	// Flock holds flock(2) locks, owned by open file descriptions.
	Flock Table
	// Record holds fcntl(2) record locks, POSIX and OFD alike: they
	// conflict with each other.
	Record Table
}

// Idle reports whether no lock is held or awaited.
func (f *FileLocks) Idle() bool { return f.Flock.Idle() && f.Record.Idle() }
