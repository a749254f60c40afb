package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/msgqueue"
)

// System V message queues: msgget(2), msgsnd(2), msgrcv(2), msgctl(2).
// A message in user memory is struct msgbuf: a long mtype, then the text.

// Msgget implements msgget(2).
func Msgget(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	id, err := t.IPCNamespace().Msg.Get(t.Credentials(), args[0].Int(), args[1].Int())
	return uintptr(id), err
}

// Msgsnd implements msgsnd(2).
func Msgsnd(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	id, addr, size, flags := args[0].Int(), args[1].Pointer(), args[2].Int64(), args[3].Int()
	var typ [8]byte
	if _, err := t.CopyIn(addr, typ[:]); err != nil {
		return 0, abilinux.EFAULT
	}
	r := t.IPCNamespace().Msg
	msgMax, _, _ := r.Limits()
	if size < 0 || size > int64(msgMax) || id < 0 {
		return 0, abilinux.EINVAL
	}
	m := &msgqueue.Message{Type: int64(binary.LittleEndian.Uint64(typ[:])), Text: make([]byte, size)}
	if m.Type < 1 {
		return 0, abilinux.EINVAL
	}
	if _, err := t.CopyIn(addr+8, m.Text); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, r.Send(t.Credentials(), t, id, m, flags, int32(t.ThreadGroup().ID()))
}

// Msgrcv implements msgrcv(2). As on Linux, a message taken from the
// queue is gone even if copying it out faults.
func Msgrcv(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	addr := args[1].Pointer()
	a := msgqueue.RecvArgs{
		Creds: t.Credentials(),
		ID:    args[0].Int(),
		Size:  args[2].Int64(),
		Type:  args[3].Int64(),
		Flags: args[4].Int(),
		PID:   int32(t.ThreadGroup().ID()),
	}
	// MSG_COPY's copy is bounded by kernel.msgmax.
	if msgMax, _, _ := t.IPCNamespace().Msg.Limits(); a.Flags&abilinux.MSG_COPY != 0 && a.Size > int64(msgMax) {
		a.Size = int64(msgMax)
	}
	m, err := t.IPCNamespace().Msg.Receive(t, a)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 8+len(m.Text))
	binary.LittleEndian.PutUint64(buf, uint64(m.Type))
	copy(buf[8:], m.Text)
	if _, err := t.CopyOut(addr, buf); err != nil {
		return 0, abilinux.EFAULT
	}
	return uintptr(len(m.Text)), nil
}

// Msgctl implements msgctl(2).
func Msgctl(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	id, cmd, buf := args[0].Int(), args[1].Int(), args[2].Pointer()
	if cmd < 0 || id < 0 {
		return 0, abilinux.EINVAL
	}
	r := t.IPCNamespace().Msg
	creds := t.Credentials()
	m := t.MemoryManager()
	switch cmd {
	case abilinux.IPC_INFO, abilinux.MSG_INFO:
		info, idx := r.Info(cmd == abilinux.MSG_INFO)
		if err := m.CopyObjectOut(buf, &info); err != nil {
			return 0, abilinux.EFAULT
		}
		return uintptr(idx), nil
	case abilinux.IPC_STAT, abilinux.MSG_STAT, abilinux.MSG_STAT_ANY:
		ds, ret, err := r.Stat(creds, id, cmd)
		if err != nil {
			return 0, err
		}
		if err := m.CopyObjectOut(buf, &ds); err != nil {
			return 0, abilinux.EFAULT
		}
		return uintptr(ret), nil
	case abilinux.IPC_SET:
		var ds abilinux.MsqidDS
		if err := m.CopyObjectIn(buf, &ds); err != nil {
			return 0, abilinux.EFAULT
		}
		return 0, r.Set(creds, id, &ds)
	case abilinux.IPC_RMID:
		return 0, r.Remove(creds, id)
	default:
		return 0, abilinux.EINVAL
	}
}
