package lock

import (
	"sort"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Type is the kind of a lock.
type Type int

const (
	// ReadLock is shared: F_RDLCK, LOCK_SH.
	ReadLock Type = iota
	// WriteLock is exclusive: F_WRLCK, LOCK_EX.
	WriteLock
)

// Owner identifies who holds a lock. It must be comparable: callers use
// pointers (a descriptor table for POSIX locks, an open file description
// for flock and OFD locks).
type Owner any

// Lock is one held lock, as Test reports it.
type Lock struct {
	Owner Owner
	Type  Type
	Range Range
	// Process is the caller's opaque name for the process that took a
	// POSIX lock (F_GETLK reports its PID); nil for flock and OFD locks.
	Process any
}

func (l *Lock) conflicts(owner Owner, typ Type, r Range) bool {
	return l.Owner != owner && (l.Type == WriteLock || typ == WriteLock) && l.Range.overlaps(r)
}

// Blocker puts the caller to sleep until ch is ready; it returns an error
// (for a task, the interrupt error) if woken early.
type Blocker interface {
	Block(ch <-chan struct{}) error
}

// Table is one family of locks (flock, or record) on one inode. The zero
// value is an empty table.
type Table struct {
	// mu guards locks and changed.
	mu sync.Mutex
	// locks holds every lock, each owner's ranges disjoint and merged,
	// in no particular order.
	locks []Lock
	// changed, when non-nil, is closed at the next release of any lock,
	// to wake blocked requests; they then try again.
	changed chan struct{}
	// waiters counts blocked requests (guarded by mu), so that callers
	// know the table is in use while it holds no locks.
	waiters int
}

// Request is a lock to take.
type Request struct {
	Owner   Owner
	Process any
	Type    Type
	Range   Range
	// Block waits for conflicting locks to go; otherwise a conflict
	// fails with EAGAIN.
	Block bool
	// DetectDeadlock makes a blocking request fail with EDEADLK when
	// waiting would close a cycle of waiting owners (POSIX locks only;
	// Linux checks neither flock nor OFD locks). Such requests are also
	// visible to other requests' checks while they wait.
	DetectDeadlock bool
	// ReplaceFirst drops the owner's existing locks in the range before
	// looking for conflicts, as flock(2) converts a lock: a failed
	// conversion leaves the owner without its old lock.
	ReplaceFirst bool
}

// Lock takes the lock req describes, waiting through b if req.Block.
// Errors: EAGAIN (conflict, not blocking), EDEADLK, or b's error.
func (t *Table) Lock(b Blocker, req Request) error {
	t.mu.Lock()
	if req.ReplaceFirst {
		if t.removeLocked(req.Owner, req.Range) {
			t.wakeLocked()
		}
	}
	for {
		if t.conflictLocked(req.Owner, req.Type, req.Range) == nil {
			t.setLocked(req.Owner, req.Process, req.Type, req.Range)
			t.mu.Unlock()
			return nil
		}
		if !req.Block {
			t.mu.Unlock()
			return linux.EAGAIN
		}
		if t.changed == nil {
			t.changed = make(chan struct{})
		}
		ch := t.changed
		t.waiters++
		t.mu.Unlock()
		err := t.wait(b, ch, &req)
		t.mu.Lock()
		t.waiters--
		if err != nil {
			t.mu.Unlock()
			return err
		}
	}
}

// wait sleeps on ch, first registering req for deadlock detection if it
// asks for it.
func (t *Table) wait(b Blocker, ch chan struct{}, req *Request) error {
	if req.DetectDeadlock {
		w := &waiter{table: t, owner: req.Owner, typ: req.Type, rng: req.Range}
		if err := graph.add(w); err != nil {
			return err
		}
		defer graph.remove(w)
	}
	return b.Block(ch)
}

// Unlock releases owner's locks in r (F_UNLCK, LOCK_UN). Releasing what
// is not held is not an error.
func (t *Table) Unlock(owner Owner, r Range) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.removeLocked(owner, r) {
		t.wakeLocked()
	}
}

// UnlockAll releases every lock of owner (close, exit).
func (t *Table) UnlockAll(owner Owner) { t.Unlock(owner, WholeFile) }

// Test returns a lock of another owner that would conflict with taking
// typ over r (F_GETLK), the lowest such one; ok is false if none does.
func (t *Table) Test(owner Owner, typ Type, r Range) (l Lock, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.conflictLocked(owner, typ, r); c != nil {
		return *c, true
	}
	return Lock{}, false
}

// TestOwn returns owner's own lowest-starting lock that overlaps r (the
// F_UNLCK query of F_OFD_GETLK); ok is false if it holds none there.
func (t *Table) TestOwn(owner Owner, r Range) (l Lock, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var best *Lock
	for i := range t.locks {
		c := &t.locks[i]
		if c.Owner == owner && c.Range.overlaps(r) && (best == nil || c.Range.Start < best.Range.Start) {
			best = c
		}
	}
	if best == nil {
		return Lock{}, false
	}
	return *best, true
}

// Held returns a copy of every lock, sorted by start then owner order of
// appearance, for tests and /proc/locks-style reports.
func (t *Table) Held() []Lock {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]Lock(nil), t.locks...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Range.Start < out[j].Range.Start })
	return out
}

// Idle reports whether the table holds no lock and nobody waits on it.
func (t *Table) Idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.locks) == 0 && t.waiters == 0
}

// conflictLocked returns the lowest-starting lock that conflicts.
func (t *Table) conflictLocked(owner Owner, typ Type, r Range) *Lock {
	var best *Lock
	for i := range t.locks {
		l := &t.locks[i]
		if l.conflicts(owner, typ, r) && (best == nil || l.Range.Start < best.Range.Start) {
			best = l
		}
	}
	return best
}

// conflictingOwnersLocked returns the distinct owners of locks that
// conflict with typ over r for owner.
func (t *Table) conflictingOwnersLocked(owner Owner, typ Type, r Range) []Owner {
	var out []Owner
	for i := range t.locks {
		l := &t.locks[i]
		if l.conflicts(owner, typ, r) {
			out = append(out, l.Owner)
		}
	}
	return out
}

func (t *Table) wakeLocked() {
	if t.changed != nil {
		close(t.changed)
		t.changed = nil
	}
}

// removeLocked cuts r out of owner's locks, splitting those that straddle
// its ends. It reports whether anything was released.
func (t *Table) removeLocked(owner Owner, r Range) bool {
	changed := false
	out := t.locks[:0:0]
	for _, l := range t.locks {
		if l.Owner != owner || !l.Range.overlaps(r) {
			out = append(out, l)
			continue
		}
		changed = true
		if l.Range.Start < r.Start {
			left := l
			left.Range.End = r.Start
			out = append(out, left)
		}
		if r.End < l.Range.End {
			right := l
			right.Range.Start = r.End
			out = append(out, right)
		}
	}
	t.locks = out
	return changed
}

// setLocked gives owner a typ lock over r, replacing its locks there and
// merging with its locks of the same type that touch or overlap r.
// Downgrading or shrinking another lock of the owner may let waiters in.
func (t *Table) setLocked(owner Owner, process any, typ Type, r Range) {
	if t.removeLocked(owner, r) {
		// A downgrade from write to read is a release for readers.
		t.wakeLocked()
	}
	out := t.locks[:0]
	for _, l := range t.locks {
		if l.Owner == owner && l.Type == typ && l.Range.Start <= r.End && r.Start <= l.Range.End {
			r.Start = min(r.Start, l.Range.Start)
			r.End = max(r.End, l.Range.End)
			continue
		}
		out = append(out, l)
	}
	t.locks = append(out, Lock{Owner: owner, Type: typ, Range: r, Process: process})
}
