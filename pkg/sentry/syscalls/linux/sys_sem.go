package linux

import (
	"encoding/binary"
	"time"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/abi/marshal"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/semaphore"
)

// System V semaphores: semget(2), semop(2), semtimedop(2), semctl(2).

// Semget implements semget(2).
func Semget(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	id, err := t.IPCNamespace().Sem.Get(t.Credentials(), args[0].Int(), args[1].Int(), args[2].Int())
	return uintptr(id), err
}

// Semop implements semop(2).
func Semop(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, semtimedop(t, args[0].Int(), args[1].Pointer(), args[2].SizeT(), 0)
}

// Semtimedop implements semtimedop(2).
func Semtimedop(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, semtimedop(t, args[0].Int(), args[1].Pointer(), args[2].SizeT(), args[3].Pointer())
}

func semtimedop(t *kernel.Task, id int32, sopsAddr uintptr, nsops uint, timeoutAddr uintptr) error {
	r := t.IPCNamespace().Sem
	if nsops < 1 || id < 0 {
		return abilinux.EINVAL
	}
	if nsops > uint(r.Limits()[2]) {
		return abilinux.E2BIG
	}
	buf := make([]byte, int(nsops)*abilinux.SizeofSembuf)
	if _, err := t.CopyIn(sopsAddr, buf); err != nil {
		return abilinux.EFAULT
	}
	ops := make([]abilinux.Sembuf, nsops)
	marshal.UnmarshalSlice(buf, ops)
	a := semaphore.OpArgs{
		Creds:   t.Credentials(),
		ID:      id,
		Ops:     ops,
		Undo:    t.SemUndoList,
		PID:     int32(t.ThreadGroup().ID()),
		Blocker: t,
	}
	if timeoutAddr != 0 {
		var ts abilinux.Timespec
		if err := t.MemoryManager().CopyObjectIn(timeoutAddr, &ts); err != nil {
			return abilinux.EFAULT
		}
		if !ts.Valid() || ts.Sec < 0 {
			return abilinux.EINVAL
		}
		d := time.Now().Add(ts.ToDuration())
		a.Deadline = &d
	}
	return r.Op(a)
}

// Semctl implements semctl(2). The fourth argument is union semun by
// value: an int for SETVAL, a pointer for the others.
func Semctl(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	id, num, cmd := args[0].Int(), args[1].Int(), args[2].Int()
	arg := args[3].Pointer()
	if id < 0 {
		return 0, abilinux.EINVAL
	}
	r := t.IPCNamespace().Sem
	creds := t.Credentials()
	m := t.MemoryManager()
	pid := int32(t.ThreadGroup().ID())
	switch cmd {
	case abilinux.IPC_INFO, abilinux.SEM_INFO:
		info, idx := r.Info(cmd == abilinux.SEM_INFO)
		if err := m.CopyObjectOut(arg, &info); err != nil {
			return 0, abilinux.EFAULT
		}
		return uintptr(idx), nil
	case abilinux.IPC_STAT, abilinux.SEM_STAT, abilinux.SEM_STAT_ANY:
		ds, ret, err := r.Stat(creds, id, cmd)
		if err != nil {
			return 0, err
		}
		if err := m.CopyObjectOut(arg, &ds); err != nil {
			return 0, abilinux.EFAULT
		}
		return uintptr(ret), nil
	case abilinux.GETVAL, abilinux.GETPID, abilinux.GETNCNT, abilinux.GETZCNT:
		v, err := r.GetOne(creds, id, num, cmd)
		return uintptr(v), err
	case abilinux.GETALL:
		vals, err := r.GetAll(creds, id)
		if err != nil {
			return 0, err
		}
		buf := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(buf[2*i:], v)
		}
		if _, err := t.CopyOut(arg, buf); err != nil {
			return 0, abilinux.EFAULT
		}
		return 0, nil
	case abilinux.SETVAL:
		return 0, r.SetVal(creds, id, num, int32(uint32(arg)), pid)
	case abilinux.SETALL:
		n, err := r.NumSems(id)
		if err != nil {
			return 0, err
		}
		buf := make([]byte, 2*n)
		if _, err := t.CopyIn(arg, buf); err != nil {
			return 0, abilinux.EFAULT
		}
		vals := make([]uint16, n)
		for i := range vals {
			vals[i] = binary.LittleEndian.Uint16(buf[2*i:])
		}
		return 0, r.SetAll(creds, id, vals, pid)
	case abilinux.IPC_SET:
		var ds abilinux.SemidDS
		if err := m.CopyObjectIn(arg, &ds); err != nil {
			return 0, abilinux.EFAULT
		}
		return 0, r.Set(creds, id, &ds)
	case abilinux.IPC_RMID:
		return 0, r.Remove(creds, id)
	default:
		return 0, abilinux.EINVAL
	}
}
