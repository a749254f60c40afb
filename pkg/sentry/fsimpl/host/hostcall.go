package host

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// hostErr converts a host errno into the Linux errno the sandbox sees;
// the numbers are the same on every Linux host.
func hostErr(err error) error {
	if e, ok := err.(unix.Errno); ok {
		return linux.Errno(e)
	}
	return err
}

// retryEINTR runs f until it does not fail with EINTR: the Sentry's own
// signals (the Go runtime's preemption) must not surface to the sandbox.
func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

func fstat(fd int, st *unix.Stat_t) error {
	return hostErr(retryEINTR(func() error { return unix.Fstat(fd, st) }))
}

// ioctlPtr issues an ioctl whose argument is a pointer to a buffer the
// caller owns.
func ioctlPtr(fd int, req uint32, arg *byte) error {
	return hostErr(retryEINTR(func() error {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(arg)))
		if e != 0 {
			return e
		}
		return nil
	}))
}

// ioctlGetInt issues an ioctl that stores an int through its argument.
func ioctlGetInt(fd int, req uint32) (int32, error) {
	var v int32
	err := hostErr(retryEINTR(func() error {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&v)))
		if e != 0 {
			return e
		}
		return nil
	}))
	return v, err
}

// ioctlValue issues an ioctl whose argument is a plain value.
func ioctlValue(fd int, req uint32, arg uint64) error {
	return hostErr(retryEINTR(func() error {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if e != 0 {
			return e
		}
		return nil
	}))
}

// futimens sets times on fd itself: utimensat with a NULL path, which
// x/sys/unix does not expose.
func futimens(fd int, ts *[2]unix.Timespec) error {
	return hostErr(retryEINTR(func() error {
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	}))
}
