// Package semaphore implements System V semaphore sets (semget(2),
// semop(2), semtimedop(2), semctl(2)): one Registry per IPC namespace,
// atomic operation arrays that block interruptibly until they can all be
// applied, and SEM_UNDO adjustments that a process's exit reverts.
//
// Waiting is by broadcast: every change to a set's values closes the
// set's channel, and each blocked semop tries its whole array again. That
// keeps the all-or-nothing rule trivially and wakes exactly the callers
// that can proceed (the others block again).
package semaphore

import (
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/kernel/ipc"
)

// Blocker is what a semop sleeps with; kernel.Task implements it.
type Blocker interface {
	Block(ch <-chan struct{}) error
	BlockWithDeadline(ch <-chan struct{}, deadline time.Time) error
}

// Registry holds the semaphore sets of one IPC namespace.
type Registry struct {
	// mu guards everything below and every set's mutable state.
	mu  sync.Mutex
	ids *ipc.Registry[*Set]
	// totalSems counts the semaphores of every set (bounded by semMns).
	totalSems int

	// Limits: kernel.sem's SEMMSL, SEMMNS, SEMOPM, SEMMNI.
	semMsl, semMns, semOpm, semMni int
}

// NewRegistry returns an empty registry with Linux's default limits.
func NewRegistry() *Registry {
	return &Registry{
		ids:    ipc.NewRegistry[*Set](),
		semMsl: linux.SEMMSL,
		semMns: linux.SEMMNS,
		semOpm: linux.SEMOPM,
		semMni: linux.SEMMNI,
	}
}

// Limits returns kernel.sem: SEMMSL, SEMMNS, SEMOPM, SEMMNI.
func (r *Registry) Limits() [4]int { return [4]int{r.semMsl, r.semMns, r.semOpm, r.semMni} }

// Set is one semaphore set.
type Set struct {
	r *Registry

	// The fields below are guarded by r.mu.
	perm ipc.Perm
	sems []sem
	// otime is the last successful semop, ctime the last change by
	// semctl.
	otime, ctime int64
	// dead is set by IPC_RMID; blocked callers then fail with EIDRM.
	dead bool
	// changed is closed and replaced whenever values change or the set
	// dies.
	changed chan struct{}
	// undos holds each undo list's adjustment per semaphore.
	undos map[*UndoList][]int32
}

// sem is one semaphore.
type sem struct {
	val int32
	// pid is the thread group of the last operation (sempid).
	pid int32
	// ncnt and zcnt count the callers blocked waiting for the value to
	// grow, or to become zero.
	ncnt, zcnt int
}

// IPCPerm implements ipc.Object.
func (s *Set) IPCPerm() *ipc.Perm { return &s.perm }

// wakeLocked wakes every blocked semop on s.
func (s *Set) wakeLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Get implements semget(2).
func (r *Registry) Get(creds *auth.Credentials, key int32, nsems int32, flags int32) (int32, error) {
	if nsems < 0 || int(nsems) > r.semMsl {
		return 0, linux.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.ids.Get(ipc.GetArgs[*Set]{
		Key:   key,
		Flags: flags,
		Creds: creds,
		Max:   r.semMni,
		Create: func() (*Set, error) {
			if nsems == 0 {
				return nil, linux.EINVAL
			}
			if r.totalSems+int(nsems) > r.semMns {
				return nil, linux.ENOSPC
			}
			r.totalSems += int(nsems)
			return &Set{
				r:       r,
				perm:    ipc.NewPerm(creds, key, flags),
				sems:    make([]sem, nsems),
				ctime:   ipc.Now(),
				changed: make(chan struct{}),
				undos:   make(map[*UndoList][]int32),
			}, nil
		},
		Abort: func(s *Set) { r.totalSems -= len(s.sems) },
		Check: func(s *Set) error {
			if int(nsems) > len(s.sems) {
				return linux.EINVAL
			}
			return nil
		},
	})
	if err != nil {
		return 0, err
	}
	return s.perm.ID, nil
}

// lookupLocked finds the set id and checks creds' access to it.
func (r *Registry) lookupLocked(creds *auth.Credentials, id int32, access uint32) (*Set, error) {
	s, err := r.ids.Lookup(id)
	if err != nil {
		return nil, err
	}
	if access != 0 && !s.perm.Access(creds, access) {
		return nil, linux.EACCES
	}
	return s, nil
}

// removeLocked implements IPC_RMID's effect.
func (s *Set) removeLocked() {
	s.dead = true
	s.r.ids.Remove(s)
	s.r.totalSems -= len(s.sems)
	s.undos = nil
	s.wakeLocked()
}
