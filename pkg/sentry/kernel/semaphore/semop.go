package semaphore

import (
	"errors"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/kernel/ipc"
)

// ErrInterrupted is what Op returns when Blocker's Block reports an
// interruption: semop fails with EINTR and is never restarted.
var ErrInterrupted = linux.EINTR

// OpArgs are the arguments of one semop/semtimedop.
type OpArgs struct {
	Creds *auth.Credentials
	ID    int32
	Ops   []linux.Sembuf
	// Undo returns the caller's undo list; called only if an operation
	// has SEM_UNDO.
	Undo func() *UndoList
	// PID is the caller's thread group ID, for sempid.
	PID int32
	// Deadline, when not nil, is semtimedop's timeout.
	Deadline *time.Time
	Blocker  Blocker
}

// Op implements semop(2)/semtimedop(2): it applies every operation of the
// array at once, or none, waiting while any would block. Waits end with
// EAGAIN at the deadline, EIDRM if the set is removed, and EINTR on a
// signal.
func (r *Registry) Op(a OpArgs) error {
	if len(a.Ops) < 1 {
		return linux.EINVAL
	}
	if len(a.Ops) > r.semOpm {
		return linux.E2BIG
	}
	var maxNum uint16
	alter, undo := false, false
	for _, op := range a.Ops {
		maxNum = max(maxNum, op.Num)
		alter = alter || op.Op != 0
		undo = undo || op.Flg&linux.SEM_UNDO != 0
	}
	var ul *UndoList
	if undo {
		ul = a.Undo()
	}
	access := uint32(0444)
	if alter {
		access = 0222
	}

	r.mu.Lock()
	s, err := r.lookupLocked(a.Creds, a.ID, 0)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if int(maxNum) >= len(s.sems) {
		r.mu.Unlock()
		return linux.EFBIG
	}
	if !s.perm.Access(a.Creds, access) {
		r.mu.Unlock()
		return linux.EACCES
	}
	for {
		if s.dead {
			r.mu.Unlock()
			return linux.EIDRM
		}
		blockOn, err := s.tryLocked(a.Ops, ul, a.PID)
		if err != nil || blockOn < 0 {
			r.mu.Unlock()
			return err
		}
		op := a.Ops[blockOn]
		if op.Flg&linux.IPC_NOWAIT != 0 {
			r.mu.Unlock()
			return linux.EAGAIN
		}
		ch := s.changed
		cnt := &s.sems[op.Num].ncnt
		if op.Op == 0 {
			cnt = &s.sems[op.Num].zcnt
		}
		*cnt++
		r.mu.Unlock()
		if a.Deadline != nil {
			err = a.Blocker.BlockWithDeadline(ch, *a.Deadline)
		} else {
			err = a.Blocker.Block(ch)
		}
		r.mu.Lock()
		*cnt--
		if err != nil {
			r.mu.Unlock()
			if errors.Is(err, linux.ETIMEDOUT) {
				return linux.EAGAIN
			}
			return ErrInterrupted
		}
	}
}

// tryLocked applies ops if they can all proceed now. It returns the index
// of the operation that must wait, or -1 when they were applied; ERANGE
// for a value or adjustment out of range. Operations are evaluated in
// order, each on the result of those before it, as Linux does.
func (s *Set) tryLocked(ops []linux.Sembuf, ul *UndoList, pid int32) (int, error) {
	vals := make(map[uint16]int32, len(ops))
	var adj map[uint16]int32
	if ul != nil {
		adj = make(map[uint16]int32)
	}
	for i, op := range ops {
		cur, ok := vals[op.Num]
		if !ok {
			cur = s.sems[op.Num].val
		}
		res := cur + int32(op.Op)
		if op.Op == 0 && cur != 0 {
			return i, nil
		}
		if res < 0 {
			return i, nil
		}
		if res > linux.SEMVMX {
			return -1, linux.ERANGE
		}
		if op.Flg&linux.SEM_UNDO != 0 {
			a, ok := adj[op.Num]
			if !ok {
				a = s.adjLocked(ul, op.Num)
			}
			a -= int32(op.Op)
			if a < -linux.SEMAEM-1 || a > linux.SEMAEM {
				return -1, linux.ERANGE
			}
			adj[op.Num] = a
		}
		vals[op.Num] = res
	}
	changed := false
	for num, v := range vals {
		if s.sems[num].val != v {
			changed = true
		}
		s.sems[num].val = v
		s.sems[num].pid = pid
	}
	if len(adj) > 0 {
		a := s.undos[ul]
		if a == nil {
			a = make([]int32, len(s.sems))
			s.undos[ul] = a
			ul.add(s)
		}
		for num, v := range adj {
			a[num] = v
		}
	}
	s.otime = ipc.Now()
	if changed {
		s.wakeLocked()
	}
	return -1, nil
}

// adjLocked returns ul's adjustment of semaphore num.
func (s *Set) adjLocked(ul *UndoList, num uint16) int32 {
	if a := s.undos[ul]; a != nil {
		return a[num]
	}
	return 0
}
