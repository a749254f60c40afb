package kernel

import (
	"sync"

	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// FSContext is a task's view of the file system: its root (chroot) and
// working directory, and its umask. Tasks created with CLONE_FS share one.
//
// +stateify savable
type FSContext struct {
	// mu guards the fields below.
	mu    sync.Mutex `state:"nosave"`
	refs  int
	root  vfs.VirtualDentry
	cwd   vfs.VirtualDentry
	umask uint32
}

// NewFSContext returns a context rooted at root with working directory
// cwd; it takes references on both.
func NewFSContext(root, cwd vfs.VirtualDentry, umask uint32) *FSContext {
	root.IncRef()
	cwd.IncRef()
	return &FSContext{refs: 1, root: root, cwd: cwd, umask: umask}
}

// Fork returns an independent copy, for clone without CLONE_FS.
func (f *FSContext) Fork() *FSContext {
	f.mu.Lock()
	defer f.mu.Unlock()
	return NewFSContext(f.root, f.cwd, f.umask)
}

// IncRef adds a sharing task.
func (f *FSContext) IncRef() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

// DecRef drops a sharing task; the last one releases the directories.
func (f *FSContext) DecRef() {
	f.mu.Lock()
	f.refs--
	last := f.refs == 0
	root, cwd := f.root, f.cwd
	f.mu.Unlock()
	if last {
		root.DecRef()
		cwd.DecRef()
	}
}

// RootDirectory returns the root with a new reference.
func (f *FSContext) RootDirectory() vfs.VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.root.IncRef()
	return f.root
}

// WorkingDirectory returns the working directory with a new reference.
func (f *FSContext) WorkingDirectory() vfs.VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cwd.IncRef()
	return f.cwd
}

// SetWorkingDirectory replaces the working directory (chdir); it takes a
// reference on vd.
func (f *FSContext) SetWorkingDirectory(vd vfs.VirtualDentry) {
	vd.IncRef()
	f.mu.Lock()
	old := f.cwd
	f.cwd = vd
	f.mu.Unlock()
	old.DecRef()
}

// SetRootDirectory replaces the root (chroot); it takes a reference on vd.
func (f *FSContext) SetRootDirectory(vd vfs.VirtualDentry) {
	vd.IncRef()
	f.mu.Lock()
	old := f.root
	f.root = vd
	f.mu.Unlock()
	old.DecRef()
}

// Umask returns the file creation mask.
func (f *FSContext) Umask() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.umask
}

// SwapUmask sets the mask and returns the old one.
func (f *FSContext) SwapUmask(mask uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.umask
	f.umask = mask & 0o777
	return old
}
