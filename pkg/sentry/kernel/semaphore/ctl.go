package semaphore

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/kernel/ipc"
)

// This file holds semctl(2)'s commands.

// Stat implements IPC_STAT (by ID), SEM_STAT and SEM_STAT_ANY (by
// index), returning what semctl returns besides: 0, or the set's ID.
func (r *Registry) Stat(creds *auth.Credentials, id int32, cmd int32) (linux.SemidDS, int32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s *Set
	var err error
	if cmd == linux.IPC_STAT {
		s, err = r.ids.Lookup(id)
	} else {
		s, err = r.ids.ByIndex(id)
	}
	if err != nil {
		return linux.SemidDS{}, 0, err
	}
	if cmd != linux.SEM_STAT_ANY && !s.perm.Access(creds, 0444) {
		return linux.SemidDS{}, 0, linux.EACCES
	}
	ret := int32(0)
	if cmd != linux.IPC_STAT {
		ret = s.perm.ID
	}
	return linux.SemidDS{
		Perm:  s.perm.ABI(creds),
		Otime: s.otime,
		Ctime: s.ctime,
		Nsems: uint64(len(s.sems)),
	}, ret, nil
}

// Set implements IPC_SET.
func (r *Registry) Set(creds *auth.Credentials, id int32, ds *linux.SemidDS) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.ids.Lookup(id)
	if err != nil {
		return err
	}
	if !s.perm.IsOwner(creds) {
		return linux.EPERM
	}
	if err := s.perm.Set(creds, &ds.Perm); err != nil {
		return err
	}
	s.ctime = ipc.Now()
	return nil
}

// Remove implements IPC_RMID: blocked semops fail with EIDRM.
func (r *Registry) Remove(creds *auth.Credentials, id int32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.ids.Lookup(id)
	if err != nil {
		return err
	}
	if !s.perm.IsOwner(creds) {
		return linux.EPERM
	}
	s.removeLocked()
	return nil
}

// GetOne implements GETVAL, GETPID, GETNCNT and GETZCNT.
func (r *Registry) GetOne(creds *auth.Credentials, id, num, cmd int32) (int32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.lookupLocked(creds, id, 0444)
	if err != nil {
		return 0, err
	}
	if num < 0 || int(num) >= len(s.sems) {
		return 0, linux.EINVAL
	}
	sm := &s.sems[num]
	switch cmd {
	case linux.GETVAL:
		return sm.val, nil
	case linux.GETPID:
		return sm.pid, nil
	case linux.GETNCNT:
		return int32(sm.ncnt), nil
	default:
		return int32(sm.zcnt), nil
	}
}

// GetAll implements GETALL.
func (r *Registry) GetAll(creds *auth.Credentials, id int32) ([]uint16, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.lookupLocked(creds, id, 0444)
	if err != nil {
		return nil, err
	}
	vals := make([]uint16, len(s.sems))
	for i := range s.sems {
		vals[i] = uint16(s.sems[i].val)
	}
	return vals, nil
}

// NumSems returns the size of set id, for SETALL to know how much to
// copy in.
func (r *Registry) NumSems(id int32) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.ids.Lookup(id)
	if err != nil {
		return 0, err
	}
	return len(s.sems), nil
}

// SetVal implements SETVAL: the value changes, every process's undo
// adjustment of that semaphore is cleared, and waiters wake.
func (r *Registry) SetVal(creds *auth.Credentials, id, num, val, pid int32) error {
	if val < 0 || val > linux.SEMVMX {
		return linux.ERANGE
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.ids.Lookup(id)
	if err != nil {
		return err
	}
	if num < 0 || int(num) >= len(s.sems) {
		return linux.EINVAL
	}
	if !s.perm.Access(creds, 0222) {
		return linux.EACCES
	}
	for _, a := range s.undos {
		a[num] = 0
	}
	s.sems[num].val = val
	s.sems[num].pid = pid
	s.ctime = ipc.Now()
	s.wakeLocked()
	return nil
}

// SetAll implements SETALL with vals, which must have one value per
// semaphore.
func (r *Registry) SetAll(creds *auth.Credentials, id int32, vals []uint16, pid int32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.lookupLocked(creds, id, 0222)
	if err != nil {
		return err
	}
	if len(vals) != len(s.sems) {
		// The set was replaced between NumSems and now.
		return linux.EIDRM
	}
	for _, v := range vals {
		if v > linux.SEMVMX {
			return linux.ERANGE
		}
	}
	for _, a := range s.undos {
		clear(a)
	}
	for i, v := range vals {
		s.sems[i].val = int32(v)
		s.sems[i].pid = pid
	}
	s.ctime = ipc.Now()
	s.wakeLocked()
	return nil
}

// Info implements IPC_INFO and, with usage, SEM_INFO (which reports the
// number of sets in semusz and of semaphores in semaem). It also returns
// the highest index in use.
func (r *Registry) Info(usage bool) (linux.Seminfo, int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	info := linux.Seminfo{
		SemMap: linux.SEMMAP,
		SemMni: int32(r.semMni),
		SemMns: int32(r.semMns),
		SemMnu: linux.SEMMNU,
		SemMsl: int32(r.semMsl),
		SemOpm: int32(r.semOpm),
		SemUme: linux.SEMUME,
		SemUsz: linux.SEMUSZ,
		SemVmx: linux.SEMVMX,
		SemAem: linux.SEMAEM,
	}
	if usage {
		info.SemUsz = int32(r.ids.InUse())
		info.SemAem = int32(r.totalSems)
	}
	return info, r.ids.HighestIndex()
}
