package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/timerfd"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// TimerfdCreate implements timerfd_create(2).
func TimerfdCreate(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	clock, flags := args[0].Int(), args[1].Uint()
	ok, alarm := timerfd.ValidClock(clock)
	if !ok || flags&^(abilinux.TFD_CLOEXEC|abilinux.TFD_NONBLOCK) != 0 {
		return 0, abilinux.EINVAL
	}
	if alarm && !t.Credentials().HasCapability(abilinux.CAP_WAKE_ALARM) {
		return 0, abilinux.EPERM
	}
	ctx := t.Context()
	file := timerfd.New(t.Kernel().VFS, clock, flags)
	defer file.DecRef(ctx)
	fd, err := t.FDTable().NewFD(ctx, 0, file, vfs.FDFlags{CloseOnExec: flags&abilinux.TFD_CLOEXEC != 0})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// getTimerFD returns the timerfd of fd: EBADF if fd is not open, EINVAL
// if it is not a timerfd. The caller drops the file's reference.
func getTimerFD(t *kernel.Task, fd int32) (*vfs.FileDescription, *timerfd.TimerFD, error) {
	file, err := getFileNoPath(t, fd)
	if err != nil {
		return nil, nil, err
	}
	tfd, ok := timerfd.FromFD(file)
	if !ok {
		file.DecRef(t.Context())
		return nil, nil, abilinux.EINVAL
	}
	return file, tfd, nil
}

func specToItimerspec(s timerfd.Spec) abilinux.Itimerspec {
	return abilinux.Itimerspec{Value: abilinux.NsecToTimespec(s.Value), Interval: abilinux.NsecToTimespec(s.Interval)}
}

// validItimerspecPart is itimerspec64_valid for one member.
func validItimerspecPart(ts abilinux.Timespec) bool { return ts.Sec >= 0 && ts.Valid() }

// TimerfdSettime implements timerfd_settime(2).
func TimerfdSettime(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	fd, flags, newAddr, oldAddr := args[0].Int(), args[1].Int(), args[2].Pointer(), args[3].Pointer()
	var spec abilinux.Itimerspec
	if err := t.MemoryManager().CopyObjectIn(newAddr, &spec); err != nil {
		return 0, err
	}
	if flags&^(abilinux.TFD_TIMER_ABSTIME|abilinux.TFD_TIMER_CANCEL_ON_SET) != 0 ||
		!validItimerspecPart(spec.Value) || !validItimerspecPart(spec.Interval) {
		return 0, abilinux.EINVAL
	}
	file, tfd, err := getTimerFD(t, fd)
	if err != nil {
		return 0, err
	}
	defer file.DecRef(t.Context())
	old := tfd.SetTime(spec.Value.ToNsec(), spec.Interval.ToNsec(), flags&abilinux.TFD_TIMER_ABSTIME != 0)
	if oldAddr != 0 {
		o := specToItimerspec(old)
		if err := t.MemoryManager().CopyObjectOut(oldAddr, &o); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// TimerfdGettime implements timerfd_gettime(2).
func TimerfdGettime(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	file, tfd, err := getTimerFD(t, args[0].Int())
	if err != nil {
		return 0, err
	}
	defer file.DecRef(t.Context())
	cur := specToItimerspec(tfd.GetTime())
	return 0, t.MemoryManager().CopyObjectOut(args[1].Pointer(), &cur)
}
