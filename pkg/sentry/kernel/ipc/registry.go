package ipc

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// Object is what a Registry holds: anything with a Perm.
type Object interface {
	IPCPerm() *Perm
}

// Registry maps keys and identifiers to one kind of object of one IPC
// namespace. Its owner's lock guards it.
type Registry[T Object] struct {
	// byIndex holds every object by the index part of its ID.
	byIndex map[int32]T
	// byKey holds the objects with a key other than IPC_PRIVATE.
	byKey map[int32]T
	// lastIndex is the index handed out last; allocation continues
	// after it, as Linux's cyclic allocation does, and seq moves on each
	// time it wraps.
	lastIndex int32
	seq       uint16
}

// NewRegistry returns an empty registry.
func NewRegistry[T Object]() *Registry[T] {
	return &Registry[T]{byIndex: make(map[int32]T), byKey: make(map[int32]T), lastIndex: -1}
}

// GetArgs are the arguments of one shmget/semget/msgget.
type GetArgs[T Object] struct {
	Key   int32
	Flags int32
	Creds *auth.Credentials
	// Max is the namespace's limit on the number of objects (SHMMNI,
	// SEMMNI, MSGMNI).
	Max int
	// Create makes the object; the registry fills in its Perm's ID,
	// Seq and Key. It returns the subsystem's errors (EINVAL for a bad
	// size, ENOSPC past a global limit).
	Create func() (T, error)
	// Abort undoes Create's accounting when the object cannot get an
	// identifier (the namespace is at Max); nil if there is nothing to
	// undo.
	Abort func(T)
	// Check validates an existing object against the call's arguments
	// (EINVAL if a segment is smaller than asked, a set has fewer
	// semaphores); nil accepts any.
	Check func(T) error
}

// Get resolves a key as the *get calls do: IPC_PRIVATE always creates;
// another key finds the object or, with IPC_CREAT, creates it; IPC_EXCL
// makes an existing one EEXIST. An existing object must pass Check and
// grant the access of the call's permission bits.
func (r *Registry[T]) Get(a GetArgs[T]) (T, error) {
	var zero T
	if a.Key != linux.IPC_PRIVATE {
		if obj, ok := r.byKey[a.Key]; ok {
			if a.Flags&linux.IPC_CREAT != 0 && a.Flags&linux.IPC_EXCL != 0 {
				return zero, linux.EEXIST
			}
			if a.Check != nil {
				if err := a.Check(obj); err != nil {
					return zero, err
				}
			}
			if !obj.IPCPerm().Access(a.Creds, uint32(a.Flags)&0777) {
				return zero, linux.EACCES
			}
			return obj, nil
		}
		if a.Flags&linux.IPC_CREAT == 0 {
			return zero, linux.ENOENT
		}
	}
	obj, err := a.Create()
	if err != nil {
		return zero, err
	}
	if err := r.add(obj, a.Key, a.Max); err != nil {
		if a.Abort != nil {
			a.Abort(obj)
		}
		return zero, err
	}
	return obj, nil
}

// add gives obj an identifier and records it under key.
func (r *Registry[T]) add(obj T, key int32, max int) error {
	if len(r.byIndex) >= min(max, MaxIndex) {
		return linux.ENOSPC
	}
	idx := r.lastIndex
	for {
		idx++
		if idx >= int32(min(max, MaxIndex)) {
			idx = 0
		}
		if _, used := r.byIndex[idx]; !used {
			break
		}
	}
	if idx <= r.lastIndex {
		r.seq++
		if int32(r.seq)*MaxIndex+MaxIndex-1 > 1<<31-1 || int32(r.seq)*MaxIndex < 0 {
			r.seq = 0
		}
	}
	r.lastIndex = idx
	p := obj.IPCPerm()
	p.Key = key
	p.Seq = r.seq
	p.ID = int32(r.seq)*MaxIndex + idx
	r.byIndex[idx] = obj
	if key != linux.IPC_PRIVATE {
		r.byKey[key] = obj
	}
	return nil
}

// Lookup returns the object with identifier id, or EINVAL (the *ctl and
// *op calls' error for a stale or unknown ID).
func (r *Registry[T]) Lookup(id int32) (T, error) {
	var zero T
	if id < 0 {
		return zero, linux.EINVAL
	}
	obj, ok := r.byIndex[id%MaxIndex]
	if !ok || obj.IPCPerm().ID != id {
		return zero, linux.EINVAL
	}
	return obj, nil
}

// ByIndex returns the object at index idx (SHM_STAT, SEM_STAT, MSG_STAT
// take an index, not an ID), or EINVAL.
func (r *Registry[T]) ByIndex(idx int32) (T, error) {
	var zero T
	obj, ok := r.byIndex[idx]
	if idx < 0 || !ok {
		return zero, linux.EINVAL
	}
	return obj, nil
}

// MakePrivate takes obj's key away, so that *get cannot find it any more
// (IPC_RMID of a segment still attached).
func (r *Registry[T]) MakePrivate(obj T) {
	p := obj.IPCPerm()
	if p.Key != linux.IPC_PRIVATE {
		if cur, ok := r.byKey[p.Key]; ok && any(cur) == any(obj) {
			delete(r.byKey, p.Key)
		}
		p.Key = linux.IPC_PRIVATE
	}
}

// Remove forgets obj: its ID and key become free.
func (r *Registry[T]) Remove(obj T) {
	r.MakePrivate(obj)
	idx := obj.IPCPerm().ID % MaxIndex
	if cur, ok := r.byIndex[idx]; ok && any(cur) == any(obj) {
		delete(r.byIndex, idx)
	}
}

// InUse returns the number of objects.
func (r *Registry[T]) InUse() int { return len(r.byIndex) }

// HighestIndex returns the highest index in use, or 0 if none, as the
// *ctl(IPC_INFO) calls return.
func (r *Registry[T]) HighestIndex() int32 {
	var m int32
	for idx := range r.byIndex {
		m = max(m, idx)
	}
	return m
}

// ForEach calls f for every object.
func (r *Registry[T]) ForEach(f func(T)) {
	for _, obj := range r.byIndex {
		f(obj)
	}
}
