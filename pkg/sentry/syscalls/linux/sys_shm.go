package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/shm"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// System V shared memory: shmget(2), shmat(2), shmdt(2), shmctl(2).

// Shmget implements shmget(2).
func Shmget(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	key, size, flags := args[0].Int(), args[1].SizeT(), args[2].Int()
	id, err := t.IPCNamespace().Shm.Get(t.Credentials(), key, uint64(size), flags, int32(t.ThreadGroup().ID()))
	return uintptr(id), err
}

// shmatAddress applies shmat's address rules: an unaligned address is
// rounded down with SHM_RND and EINVAL without; SHM_REMAP needs an
// address.
func shmatAddress(addr uintptr, flags int32) (uintptr, error) {
	if addr == 0 {
		if flags&abilinux.SHM_REMAP != 0 {
			return 0, abilinux.EINVAL
		}
		return 0, nil
	}
	if addr&(abilinux.SHMLBA-1) != 0 {
		if flags&abilinux.SHM_RND == 0 {
			return 0, abilinux.EINVAL
		}
		addr &^= abilinux.SHMLBA - 1
		if addr == 0 && flags&abilinux.SHM_REMAP != 0 {
			return 0, abilinux.EINVAL
		}
	}
	return addr, nil
}

// Shmat implements shmat(2): the segment is mapped shared, read-only
// with SHM_RDONLY, executable with SHM_EXEC. At a given address it
// must not overlap an existing mapping unless SHM_REMAP.
func Shmat(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	id, flags := args[0].Int(), args[2].Int()
	if id < 0 {
		return 0, abilinux.EINVAL
	}
	addr, err := shmatAddress(args[1].Pointer(), flags)
	if err != nil {
		return 0, err
	}
	seg, err := t.IPCNamespace().Shm.FindForAttach(t.Credentials(), id, flags)
	if err != nil {
		return 0, err
	}
	size := uintptr(seg.Size())
	opts := mm.MMapOpts{
		Addr:   addr,
		Length: size,
		Perms: platform.AccessType{
			Read:    true,
			Write:   flags&abilinux.SHM_RDONLY == 0,
			Execute: flags&abilinux.SHM_EXEC != 0,
		},
		MaxPerms: platform.AccessType{Read: true, Write: flags&abilinux.SHM_RDONLY == 0, Execute: true},
		Mappable: seg,
	}
	if addr != 0 {
		if addr+size < addr {
			seg.DoneAttach(false, 0)
			return 0, abilinux.EINVAL
		}
		opts.Fixed = flags&abilinux.SHM_REMAP != 0
		opts.NoReplace = !opts.Fixed
	}
	at, err := t.MemoryManager().MMap(opts)
	seg.DoneAttach(err == nil, int32(t.ThreadGroup().ID()))
	if err == abilinux.EEXIST {
		err = abilinux.EINVAL
	}
	if err != nil {
		return 0, err
	}
	return at, nil
}

// Shmdt implements shmdt(2).
func Shmdt(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	m, err := t.MemoryManager().DetachAt(args[0].Pointer(), shm.IsSegment)
	if err != nil {
		return 0, err
	}
	m.(*shm.Segment).Detached(int32(t.ThreadGroup().ID()))
	return 0, nil
}

// Shmctl implements shmctl(2).
func Shmctl(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	id, cmd, buf := args[0].Int(), args[1].Int(), args[2].Pointer()
	if cmd < 0 || id < 0 {
		return 0, abilinux.EINVAL
	}
	r := t.IPCNamespace().Shm
	creds := t.Credentials()
	m := t.MemoryManager()
	switch cmd {
	case abilinux.IPC_INFO:
		info, idx := r.IPCInfo()
		if err := m.CopyObjectOut(buf, &info); err != nil {
			return 0, abilinux.EFAULT
		}
		return uintptr(idx), nil
	case abilinux.SHM_INFO:
		info, idx := r.Info()
		if err := m.CopyObjectOut(buf, &info); err != nil {
			return 0, abilinux.EFAULT
		}
		return uintptr(idx), nil
	case abilinux.IPC_STAT, abilinux.SHM_STAT, abilinux.SHM_STAT_ANY:
		ds, ret, err := r.Stat(creds, id, cmd)
		if err != nil {
			return 0, err
		}
		if err := m.CopyObjectOut(buf, &ds); err != nil {
			return 0, abilinux.EFAULT
		}
		return uintptr(ret), nil
	case abilinux.IPC_SET:
		var ds abilinux.ShmidDS
		if err := m.CopyObjectIn(buf, &ds); err != nil {
			return 0, abilinux.EFAULT
		}
		return 0, r.Set(creds, id, &ds)
	case abilinux.IPC_RMID:
		return 0, r.Remove(creds, id)
	case abilinux.SHM_LOCK, abilinux.SHM_UNLOCK:
		return 0, r.Lock(creds, id, cmd == abilinux.SHM_LOCK)
	default:
		return 0, abilinux.EINVAL
	}
}
