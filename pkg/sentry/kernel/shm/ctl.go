package shm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/kernel/ipc"
)

// This file holds shmctl(2)'s commands.

// statLocked returns s as struct shmid64_ds.
func (s *Segment) statLocked(creds *auth.Credentials) linux.ShmidDS {
	return linux.ShmidDS{
		Perm:   s.perm.ABI(creds),
		Segsz:  s.size,
		Atime:  s.atime,
		Dtime:  s.dtime,
		Ctime:  s.ctime,
		Cpid:   s.cpid,
		Lpid:   s.lpid,
		Nattch: s.nattch,
	}
}

// Stat implements IPC_STAT (by ID), SHM_STAT and SHM_STAT_ANY (by index).
// It returns the segment's state and what shmctl returns: 0 for
// IPC_STAT, the segment's ID for the others.
func (r *Registry) Stat(creds *auth.Credentials, id int32, cmd int32) (linux.ShmidDS, int32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s *Segment
	var err error
	if cmd == linux.IPC_STAT {
		s, err = r.ids.Lookup(id)
	} else {
		s, err = r.ids.ByIndex(id)
	}
	if err != nil {
		return linux.ShmidDS{}, 0, err
	}
	if cmd != linux.SHM_STAT_ANY && !s.perm.Access(creds, 0444) {
		return linux.ShmidDS{}, 0, linux.EACCES
	}
	ret := int32(0)
	if cmd != linux.IPC_STAT {
		ret = s.perm.ID
	}
	return s.statLocked(creds), ret, nil
}

// Set implements IPC_SET: owner and permission bits.
func (r *Registry) Set(creds *auth.Credentials, id int32, ds *linux.ShmidDS) error {
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

// Remove implements IPC_RMID: the segment loses its key at once and is
// destroyed when it is no longer attached (SHM_DEST until then).
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
	if s.nattch == 0 {
		s.destroyLocked()
		return nil
	}
	s.perm.Mode |= linux.SHM_DEST
	r.ids.MakePrivate(s)
	return nil
}

// Lock implements SHM_LOCK and SHM_UNLOCK. Pages are never swapped out
// here, so locking only records SHM_LOCKED; the permission rule is
// Linux's: CAP_IPC_LOCK, or the owner or creator.
func (r *Registry) Lock(creds *auth.Credentials, id int32, lock bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.ids.Lookup(id)
	if err != nil {
		return err
	}
	if !creds.HasCapability(linux.CAP_IPC_LOCK) {
		if creds.EffectiveKUID != s.perm.UID && creds.EffectiveKUID != s.perm.CUID {
			return linux.EPERM
		}
	}
	if lock {
		s.perm.Mode |= linux.SHM_LOCKED
	} else {
		s.perm.Mode &^= linux.SHM_LOCKED
	}
	return nil
}

// IPCInfo implements IPC_INFO: the limits, and the highest index in use.
func (r *Registry) IPCInfo() (linux.ShmParams, int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return linux.ShmParams{
		ShmMax: r.shmMax,
		ShmMin: linux.SHMMIN,
		ShmMni: uint64(r.shmMni),
		ShmSeg: linux.SHMSEG,
		ShmAll: r.shmAll,
	}, r.ids.HighestIndex()
}

// Info implements SHM_INFO: usage, and the highest index in use.
func (r *Registry) Info() (linux.ShmInfo, int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	info := linux.ShmInfo{UsedIDs: int32(r.ids.InUse()), ShmTot: r.totalPages}
	r.ids.ForEach(func(s *Segment) {
		info.ShmRss += s.store.Usage() / linux.PageSize
	})
	return info, r.ids.HighestIndex()
}
