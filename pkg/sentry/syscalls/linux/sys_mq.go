package linux

import (
	"encoding/binary"
	"strings"
	"time"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/mqfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// POSIX message queues (mq_overview(7)), on the mqueue file system of
// the caller's IPC namespace (pkg/sentry/fsimpl/mqfs). The C library
// strips the leading '/' of a queue's name; the kernel sees the rest.

// mqName copies in a queue name and checks it as Linux's lookup of a
// single component does.
func mqName(t *kernel.Task, addr uintptr) (string, error) {
	name, err := copyInPath(t, addr)
	if err != nil {
		return "", err
	}
	switch {
	case name == "":
		return "", abilinux.ENOENT
	case name == "." || name == ".." || strings.IndexByte(name, '/') >= 0:
		return "", abilinux.EACCES
	case len(name) > abilinux.NAME_MAX:
		return "", abilinux.ENAMETOOLONG
	}
	return name, nil
}

func mqRegistry(t *kernel.Task) *mqfs.Registry {
	return mqfs.RegistryOf(t.Kernel().VFS, t.IPCNamespace())
}

// MqOpen implements mq_open(2). Queue descriptors are close-on-exec, as
// Linux makes them.
func MqOpen(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	nameAddr, oflag, mode, attrAddr := args[0].Pointer(), args[1].Uint(), args[2].Uint(), args[3].Pointer()
	name, err := mqName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	var attr *abilinux.MqAttr
	if oflag&abilinux.O_CREAT != 0 && attrAddr != 0 {
		attr = &abilinux.MqAttr{}
		if err := t.MemoryManager().CopyObjectIn(attrAddr, attr); err != nil {
			return 0, err
		}
	}
	if oflag&abilinux.O_ACCMODE == abilinux.O_ACCMODE {
		return 0, abilinux.EINVAL
	}
	ctx := t.Context()
	perm := abilinux.FileMode(mode) &^ abilinux.FileMode(t.FSContext().Umask()) & abilinux.PermissionsMask
	flags := oflag & (abilinux.O_ACCMODE | abilinux.O_CREAT | abilinux.O_EXCL | abilinux.O_NONBLOCK)
	file, err := mqRegistry(t).Open(ctx, t.Credentials(), name, flags, perm, attr)
	if err != nil {
		return 0, err
	}
	defer file.DecRef(ctx)
	fd, err := t.FDTable().NewFD(ctx, 0, file, vfs.FDFlags{CloseOnExec: true})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// MqUnlink implements mq_unlink(2).
func MqUnlink(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	name, err := mqName(t, args[0].Pointer())
	if err != nil {
		return 0, err
	}
	return 0, mqRegistry(t).Unlink(t.Context(), t.Credentials(), name)
}

// mqFile returns the queue fd names (EBADF if it is not one).
func mqFile(t *kernel.Task, fd int32) (*vfs.FileDescription, *mqfs.QueueFD, error) {
	f, err := t.GetFile(fd)
	if err != nil {
		return nil, nil, err
	}
	q, ok := f.Impl().(*mqfs.QueueFD)
	if !ok {
		f.DecRef(t.Context())
		return nil, nil, abilinux.EBADF
	}
	return f, q, nil
}

// mqDeadline reads an absolute CLOCK_REALTIME timeout; 0 means none,
// returned as the zero time.
func mqDeadline(t *kernel.Task, addr uintptr) (time.Time, error) {
	if addr == 0 {
		return time.Time{}, nil
	}
	var ts abilinux.Timespec
	if err := t.MemoryManager().CopyObjectIn(addr, &ts); err != nil {
		return time.Time{}, err
	}
	if ts.Sec < 0 || !ts.Valid() {
		return time.Time{}, abilinux.EINVAL
	}
	d := time.Unix(ts.Sec, ts.Nsec)
	if d.IsZero() {
		// The epoch itself is long past.
		d = d.Add(1)
	}
	return d, nil
}

// MqTimedsend implements mq_timedsend(2).
func MqTimedsend(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	mqdes, msgAddr, msgLen, prio := args[0].Int(), args[1].Pointer(), args[2].SizeT(), args[3].Uint()
	deadline, err := mqDeadline(t, args[4].Pointer())
	if err != nil {
		return 0, err
	}
	if prio >= abilinux.MQ_PRIO_MAX {
		return 0, abilinux.EINVAL
	}
	f, q, err := mqFile(t, mqdes)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	if !f.IsWritable() {
		return 0, abilinux.EBADF
	}
	if int64(msgLen) > q.Attr().MsgSize || int64(msgLen) < 0 {
		return 0, abilinux.EMSGSIZE
	}
	data := make([]byte, msgLen)
	if _, err := t.CopyIn(msgAddr, data); err != nil {
		return 0, err
	}
	return 0, q.Send(t.Context(), t, data, prio, deadline)
}

// MqTimedreceive implements mq_timedreceive(2).
func MqTimedreceive(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	mqdes, msgAddr, msgLen, prioAddr := args[0].Int(), args[1].Pointer(), args[2].SizeT(), args[3].Pointer()
	deadline, err := mqDeadline(t, args[4].Pointer())
	if err != nil {
		return 0, err
	}
	f, q, err := mqFile(t, mqdes)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	size := int64(msgLen)
	if size < 0 {
		size = 1 << 62
	}
	data, prio, err := q.Receive(t.Context(), size, deadline)
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(msgAddr, data); err != nil {
		return 0, err
	}
	if prioAddr != 0 {
		b := binary.LittleEndian.AppendUint32(nil, prio)
		if _, err := t.CopyOut(prioAddr, b); err != nil {
			return 0, err
		}
	}
	return uintptr(len(data)), nil
}

// MqNotify implements mq_notify(2) for SIGEV_SIGNAL and SIGEV_NONE.
// SIGEV_THREAD needs the kernel to write to the caller's netlink socket,
// which the sandbox does not do: ENOSYS, what glibc itself reports when
// it cannot set that up.
func MqNotify(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	mqdes, evAddr := args[0].Int(), args[1].Pointer()
	var ev *abilinux.Sigevent
	if evAddr != 0 {
		ev = &abilinux.Sigevent{}
		if err := t.MemoryManager().CopyObjectIn(evAddr, ev); err != nil {
			return 0, err
		}
		switch ev.Notify {
		case abilinux.SIGEV_NONE:
		case abilinux.SIGEV_SIGNAL:
			if ev.Signo < 0 || ev.Signo > abilinux.NumSignals {
				return 0, abilinux.EINVAL
			}
		case abilinux.SIGEV_THREAD:
			return 0, abilinux.ENOSYS
		default:
			return 0, abilinux.EINVAL
		}
	}
	f, q, err := mqFile(t, mqdes)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	return 0, q.Notify(t.ThreadGroup(), ev)
}

// MqGetsetattr implements mq_getsetattr(2): only O_NONBLOCK can change.
func MqGetsetattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	mqdes, newAddr, oldAddr := args[0].Int(), args[1].Pointer(), args[2].Pointer()
	var nattr *abilinux.MqAttr
	if newAddr != 0 {
		nattr = &abilinux.MqAttr{}
		if err := t.MemoryManager().CopyObjectIn(newAddr, nattr); err != nil {
			return 0, err
		}
		if nattr.Flags&^abilinux.O_NONBLOCK != 0 {
			return 0, abilinux.EINVAL
		}
	}
	f, q, err := mqFile(t, mqdes)
	if err != nil {
		return 0, err
	}
	ctx := t.Context()
	defer f.DecRef(ctx)
	old := q.Attr()
	if nattr != nil {
		flags := f.StatusFlags()&^abilinux.O_NONBLOCK | uint32(nattr.Flags)
		if err := f.SetStatusFlags(ctx, t.Credentials(), flags); err != nil {
			return 0, err
		}
	}
	if oldAddr != 0 {
		if err := t.MemoryManager().CopyObjectOut(oldAddr, &old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}
