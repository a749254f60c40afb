package linux

import (
	"time"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/epoll"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// epollMaxEvents is EP_MAX_EVENTS: maxevents beyond it is EINVAL.
const epollMaxEvents = (1<<31 - 1) / abilinux.SizeofEpollEvent

// EpollCreate implements epoll_create(2): size is only checked.
func EpollCreate(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	if args[0].Int() <= 0 {
		return 0, abilinux.EINVAL
	}
	return epollCreate(t, 0)
}

// EpollCreate1 implements epoll_create1(2).
func EpollCreate1(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags := args[0].Uint()
	if flags&^abilinux.EPOLL_CLOEXEC != 0 {
		return 0, abilinux.EINVAL
	}
	return epollCreate(t, flags)
}

func epollCreate(t *kernel.Task, flags uint32) (uintptr, error) {
	ctx := t.Context()
	file := epoll.New(t.Kernel().VFS)
	defer file.DecRef(ctx)
	fd, err := t.FDTable().NewFD(ctx, 0, file, vfs.FDFlags{CloseOnExec: flags&abilinux.EPOLL_CLOEXEC != 0})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// getFileNoPath is GetFile refusing O_PATH descriptors, as Linux's fdget
// does for epoll_ctl, epoll_wait and the timerfd and signalfd calls.
func getFileNoPath(t *kernel.Task, fd int32) (*vfs.FileDescription, error) {
	f, err := t.GetFile(fd)
	if err != nil {
		return nil, err
	}
	if f.StatusFlags()&abilinux.O_PATH != 0 {
		f.DecRef(t.Context())
		return nil, abilinux.EBADF
	}
	return f, nil
}

// EpollCtl implements epoll_ctl(2).
func EpollCtl(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	epfd, op, fd, evAddr := args[0].Int(), args[1].Int(), args[2].Int(), args[3].Pointer()
	var ev abilinux.EpollEvent
	if op != abilinux.EPOLL_CTL_DEL {
		if err := t.MemoryManager().CopyObjectIn(evAddr, &ev); err != nil {
			return 0, err
		}
	}
	ctx := t.Context()
	epFile, err := getFileNoPath(t, epfd)
	if err != nil {
		return 0, err
	}
	defer epFile.DecRef(ctx)
	file, err := getFileNoPath(t, fd)
	if err != nil {
		return 0, err
	}
	defer file.DecRef(ctx)
	return 0, epoll.Control(ctx, epFile, op, file, fd, ev.Events, ev.UserData())
}

// epollWait waits on epfd and copies the events out to evAddr. Like
// Linux, it returns EINTR when interrupted, never a restart.
func epollWait(t *kernel.Task, epfd int32, evAddr uintptr, maxEvents int32, to pollTimeout) (uintptr, error) {
	if maxEvents <= 0 || maxEvents > epollMaxEvents {
		return 0, abilinux.EINVAL
	}
	ctx := t.Context()
	file, err := getFileNoPath(t, epfd)
	if err != nil {
		return 0, err
	}
	defer file.DecRef(ctx)
	ep, ok := epoll.FromFD(file)
	if !ok {
		return 0, abilinux.EINVAL
	}
	evs, err := ep.Wait(ctx, int(maxEvents), to.deadline, to.finite)
	if err == kernel.ErrInterrupted {
		return 0, abilinux.EINTR
	}
	if err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		return 0, nil
	}
	buf := make([]byte, len(evs)*abilinux.SizeofEpollEvent)
	for i, e := range evs {
		ev := abilinux.EpollEvent{Events: e.Events}
		ev.SetUserData(e.Data)
		ev.MarshalBytes(buf[i*abilinux.SizeofEpollEvent:])
	}
	n, err := t.CopyOut(evAddr, buf)
	if copied := n / abilinux.SizeofEpollEvent; copied < len(evs) {
		// Events that did not reach the application are reported
		// again by the next wait, as Linux puts them back.
		ep.PutBack(evs[copied:])
		if copied == 0 {
			if err == nil {
				err = abilinux.EFAULT
			}
			return 0, err
		}
		return uintptr(copied), nil
	}
	return uintptr(len(evs)), nil
}

// msTimeout converts epoll_wait's millisecond timeout; negative waits
// forever.
func msTimeout(ms int32) pollTimeout {
	if ms < 0 {
		return pollTimeout{}
	}
	return timeoutAfter(time.Duration(ms) * time.Millisecond)
}

// EpollWait implements epoll_wait(2).
func EpollWait(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return epollWait(t, args[0].Int(), args[1].Pointer(), args[2].Int(), msTimeout(args[3].Int()))
}

// epollPwait runs epollWait under the signal mask at maskAddr (if any),
// which stays installed for the handler of a signal that interrupts it.
func epollPwait(t *kernel.Task, args arch.SyscallArguments, to pollTimeout) (uintptr, error) {
	restore, err := swapSignalMask(t, args[4].Pointer(), args[5].Uint64())
	if err != nil {
		return 0, err
	}
	n, err := epollWait(t, args[0].Int(), args[1].Pointer(), args[2].Int(), to)
	restore(err == abilinux.EINTR)
	return n, err
}

// EpollPwait implements epoll_pwait(2).
func EpollPwait(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return epollPwait(t, args, msTimeout(args[3].Int()))
}

// EpollPwait2 implements epoll_pwait2(2): the timeout is a timespec
// pointer, NULL waiting forever.
func EpollPwait2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	to, err := copyInTimespecTimeout(t, args[3].Pointer())
	if err != nil {
		return 0, err
	}
	return epollPwait(t, args, to)
}
