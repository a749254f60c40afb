package vfs

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// FDFlags are per-descriptor flags (as opposed to the FileDescription's
// status flags, which dup'd descriptors share).
//
// +stateify savable
type FDFlags struct {
	CloseOnExec bool
}

// ToLinux returns the flags as F_GETFD reports them.
func (f FDFlags) ToLinux() int32 {
	if f.CloseOnExec {
		return linux.FD_CLOEXEC
	}
	return 0
}

// +stateify savable
type fdEntry struct {
	file  *FileDescription
	flags FDFlags
}

// CtxNOFILELimit is the context.Context key whose value (uint64) is the
// caller's RLIMIT_NOFILE soft limit. Without it the table allows
// NR_OPEN descriptors.
const CtxNOFILELimit contextID = CtxBlocker + 1

func nofileLimit(ctx context.Context) int32 {
	if v, ok := ctx.Value(CtxNOFILELimit).(uint64); ok {
		if v > math.MaxInt32 {
			return math.MaxInt32
		}
		return int32(v)
	}
	return linux.NR_OPEN
}

// FDTable maps descriptor numbers to open files for one or more tasks
// (clone(CLONE_FILES) shares a table; fork copies it).
//
// +stateify savable
type FDTable struct {
	// refs counts the tasks sharing the table.
	refs atomic.Int64

	// mu guards files and used. Files are released after mu is dropped,
	// since releasing a file may block or take other locks.
	mu sync.Mutex // +state:nosave
	// files is indexed by descriptor; unused slots have a nil file.
	files []fdEntry
	// used counts the non-nil slots.
	used int
}

// NewFDTable returns an empty table with one reference.
func NewFDTable() *FDTable {
	t := &FDTable{}
	t.refs.Store(1)
	return t
}

// IncRef adds a sharer.
func (t *FDTable) IncRef() { t.refs.Add(1) }

// DecRef drops a sharer; the last one closes every descriptor.
func (t *FDTable) DecRef(ctx context.Context) {
	if t.refs.Add(-1) == 0 {
		t.RemoveIf(ctx, func(int32, *FileDescription, FDFlags) bool { return true })
	}
}

// lowestFreeLocked returns the lowest unused descriptor >= min.
func (t *FDTable) lowestFreeLocked(min int32) int32 {
	for fd := min; int(fd) < len(t.files); fd++ {
		if t.files[fd].file == nil {
			return fd
		}
	}
	if int(min) > len(t.files) {
		return min
	}
	return int32(len(t.files))
}

func (t *FDTable) setLocked(fd int32, file *FileDescription, flags FDFlags) (old *FileDescription) {
	if int(fd) >= len(t.files) {
		n := max(int(fd)+1, 2*len(t.files), 8)
		nf := make([]fdEntry, n)
		copy(nf, t.files)
		t.files = nf
	}
	old = t.files[fd].file
	if old == nil && file != nil {
		t.used++
	} else if old != nil && file == nil {
		t.used--
	}
	t.files[fd] = fdEntry{file, flags}
	return old
}

// NewFD installs file at the lowest free descriptor >= minFD, taking a
// reference, and returns the descriptor. It fails with EMFILE when that
// would reach RLIMIT_NOFILE.
func (t *FDTable) NewFD(ctx context.Context, minFD int32, file *FileDescription, flags FDFlags) (int32, error) {
	fds, err := t.NewFDs(ctx, minFD, []*FileDescription{file}, flags)
	if err != nil {
		return -1, err
	}
	return fds[0], nil
}

// NewFDs installs all of files or none (pipe(2), socketpair(2)).
func (t *FDTable) NewFDs(ctx context.Context, minFD int32, files []*FileDescription, flags FDFlags) ([]int32, error) {
	if minFD < 0 {
		return nil, linux.EINVAL
	}
	limit := nofileLimit(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	fds := make([]int32, 0, len(files))
	for _, f := range files {
		fd := t.lowestFreeLocked(minFD)
		if fd >= limit {
			for _, done := range fds {
				t.setLocked(done, nil, FDFlags{})
			}
			return nil, linux.EMFILE
		}
		t.setLocked(fd, f, flags)
		fds = append(fds, fd)
	}
	for _, f := range files {
		f.IncRef()
	}
	return fds, nil
}

// NewFDAt installs file at exactly fd (dup2, dup3, F_DUPFD at a taken
// number is not this), closing what was there. It fails with EBADF if fd
// is beyond RLIMIT_NOFILE.
func (t *FDTable) NewFDAt(ctx context.Context, fd int32, file *FileDescription, flags FDFlags) error {
	if fd < 0 || fd >= nofileLimit(ctx) {
		return linux.EBADF
	}
	file.IncRef()
	t.mu.Lock()
	old := t.setLocked(fd, file, flags)
	t.mu.Unlock()
	if old != nil {
		t.closed(ctx, old)
	}
	return nil
}

// Get returns the file at fd with a reference, and its flags; nil if fd
// is not open.
func (t *FDTable) Get(fd int32) (*FileDescription, FDFlags) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return nil, FDFlags{}
	}
	e := t.files[fd]
	e.file.IncRef()
	return e.file, e.flags
}

// SetFlags implements F_SETFD.
func (t *FDTable) SetFlags(fd int32, flags FDFlags) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return linux.EBADF
	}
	t.files[fd].flags = flags
	return nil
}

// Remove closes fd and returns its file, whose table reference the
// caller now owns and must DecRef (after any close-time work such as
// releasing POSIX locks). It returns nil if fd is not open.
func (t *FDTable) Remove(fd int32) *FileDescription {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) {
		return nil
	}
	return t.setLocked(fd, nil, FDFlags{})
}

// Dup implements dup(2) and F_DUPFD(_CLOEXEC): a new descriptor >= minFD
// for the file at oldfd.
func (t *FDTable) Dup(ctx context.Context, oldfd, minFD int32, flags FDFlags) (int32, error) {
	f, _ := t.Get(oldfd)
	if f == nil {
		return -1, linux.EBADF
	}
	defer f.DecRef(ctx)
	if minFD >= nofileLimit(ctx) {
		return -1, linux.EINVAL
	}
	return t.NewFD(ctx, minFD, f, flags)
}

// Dup2 implements dup2(2): dup2(fd, fd) returns fd if it is open.
func (t *FDTable) Dup2(ctx context.Context, oldfd, newfd int32) (int32, error) {
	f, _ := t.Get(oldfd)
	if f == nil {
		return -1, linux.EBADF
	}
	defer f.DecRef(ctx)
	if oldfd == newfd {
		return newfd, nil
	}
	if err := t.NewFDAt(ctx, newfd, f, FDFlags{}); err != nil {
		return -1, err
	}
	return newfd, nil
}

// Dup3 implements dup3(2), which refuses oldfd == newfd.
func (t *FDTable) Dup3(ctx context.Context, oldfd, newfd int32, flags FDFlags) (int32, error) {
	if oldfd == newfd {
		return -1, linux.EINVAL
	}
	f, _ := t.Get(oldfd)
	if f == nil {
		return -1, linux.EBADF
	}
	defer f.DecRef(ctx)
	if err := t.NewFDAt(ctx, newfd, f, flags); err != nil {
		return -1, err
	}
	return newfd, nil
}

// CloseRange implements close_range(2) for first..last inclusive: close
// the descriptors, or with CLOSE_RANGE_CLOEXEC mark them close-on-exec.
// CLOSE_RANGE_UNSHARE is the caller's (it forks the table first).
func (t *FDTable) CloseRange(ctx context.Context, first, last uint32, flags uint32) error {
	if flags&^(linux.CLOSE_RANGE_CLOEXEC|linux.CLOSE_RANGE_UNSHARE) != 0 || first > last {
		return linux.EINVAL
	}
	lo := int64(first)
	hi := min(int64(last), math.MaxInt32)
	if flags&linux.CLOSE_RANGE_CLOEXEC != 0 {
		t.mu.Lock()
		for fd := lo; fd <= hi && fd < int64(len(t.files)); fd++ {
			if t.files[fd].file != nil {
				t.files[fd].flags.CloseOnExec = true
			}
		}
		t.mu.Unlock()
		return nil
	}
	t.RemoveIf(ctx, func(fd int32, _ *FileDescription, _ FDFlags) bool {
		return int64(fd) >= lo && int64(fd) <= hi
	})
	return nil
}

// RemoveIf closes every descriptor for which pred is true.
func (t *FDTable) RemoveIf(ctx context.Context, pred func(fd int32, file *FileDescription, flags FDFlags) bool) {
	var closed []*FileDescription
	t.mu.Lock()
	for fd := range t.files {
		e := t.files[fd]
		if e.file != nil && pred(int32(fd), e.file, e.flags) {
			closed = append(closed, t.setLocked(int32(fd), nil, FDFlags{}))
		}
	}
	t.mu.Unlock()
	for _, f := range closed {
		t.closed(ctx, f)
	}
}

// RemoveCloseOnExec closes the close-on-exec descriptors (execve).
func (t *FDTable) RemoveCloseOnExec(ctx context.Context) {
	t.RemoveIf(ctx, func(_ int32, _ *FileDescription, flags FDFlags) bool { return flags.CloseOnExec })
}

// Fork returns a copy of t sharing its open files (fork without
// CLONE_FILES, or unshare(CLONE_FILES)).
func (t *FDTable) Fork() *FDTable {
	n := NewFDTable()
	t.mu.Lock()
	defer t.mu.Unlock()
	n.files = make([]fdEntry, len(t.files))
	copy(n.files, t.files)
	n.used = t.used
	for _, e := range n.files {
		if e.file != nil {
			e.file.IncRef()
		}
	}
	return n
}

// ForEach calls f for each open descriptor in order, with t locked: f
// must not use t.
func (t *FDTable) ForEach(f func(fd int32, file *FileDescription, flags FDFlags)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd, e := range t.files {
		if e.file != nil {
			f(int32(fd), e.file, e.flags)
		}
	}
}

// Count returns how many descriptors are open.
func (t *FDTable) Count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.used
}
