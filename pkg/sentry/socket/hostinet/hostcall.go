package hostinet

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// The host calls below take raw sockaddr bytes, which x/sys/unix's
// wrappers (typed Sockaddr values) cannot. Each retries EINTR, which a
// non-blocking socket call only sees from a signal to the Sentry
// itself (Go's preemption), and returns host errnos as linux.Errno.

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return linux.Errno(e)
}

func sockaddrPtr(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

func hostSocket(domain, stype, protocol int) (int32, error) {
	for {
		fd, _, e := unix.Syscall(unix.SYS_SOCKET, uintptr(domain), uintptr(stype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC), uintptr(protocol))
		if e == unix.EINTR {
			continue
		}
		return int32(fd), errnoErr(e)
	}
}

// addrCall makes bind or connect.
func addrCall(nr uintptr, fd int32, addr []byte) error {
	for {
		_, _, e := unix.Syscall(nr, uintptr(fd), sockaddrPtr(addr), uintptr(len(addr)))
		if e == unix.EINTR {
			// A retried connect reports EALREADY, which Connect
			// treats as still in progress.
			continue
		}
		return errnoErr(e)
	}
}

func hostListen(fd int32, backlog int) error {
	_, _, e := unix.Syscall(unix.SYS_LISTEN, uintptr(fd), uintptr(backlog), 0)
	return errnoErr(e)
}

func hostAccept(fd int32) (int32, error) {
	for {
		nfd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if e == unix.EINTR {
			continue
		}
		return int32(nfd), errnoErr(e)
	}
}

func hostShutdown(fd int32, how int) error {
	_, _, e := unix.Syscall(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	return errnoErr(e)
}

// hostName makes getsockname or getpeername.
func hostName(nr uintptr, fd int32) ([]byte, error) {
	var buf [maxSockaddrLen]byte
	l := uint32(len(buf))
	_, _, e := unix.Syscall(nr, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return nil, errnoErr(e)
	}
	return append([]byte(nil), buf[:min(int(l), len(buf))]...), nil
}

func hostGetsockopt(fd int32, level, name int, buf []byte) (int, error) {
	l := uint32(len(buf))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), sockaddrPtr(buf), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, errnoErr(e)
	}
	return min(int(l), len(buf)), nil
}

func hostSetsockopt(fd int32, level, name int, val []byte) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), sockaddrPtr(val), uintptr(len(val)), 0)
	return errnoErr(e)
}

func hostIoctl(fd int32, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	return errnoErr(e)
}

// hostSendmsg sends buf to addr (nil: the connected peer) with the
// control messages in control (already laid out as struct cmsghdr).
func hostSendmsg(fd int32, buf, addr, control []byte, flags int) (int, error) {
	var iov unix.Iovec
	if len(buf) > 0 {
		iov.Base = &buf[0]
	}
	iov.SetLen(len(buf))
	var h unix.Msghdr
	h.Iov = &iov
	h.SetIovlen(1)
	if len(addr) > 0 {
		h.Name = &addr[0]
		h.Namelen = uint32(len(addr))
	}
	if len(control) > 0 {
		h.Control = &control[0]
		h.SetControllen(len(control))
	}
	for {
		n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&h)), uintptr(flags))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, errnoErr(e)
		}
		return int(n), nil
	}
}

// recvResult is one host recvmsg's outcome.
type recvResult struct {
	n       int // the return value (the full length with MSG_TRUNC)
	from    []byte
	control []byte
	flags   int
}

// hostRecvmsg receives into buf, with room for an address and for
// control messages in control.
func hostRecvmsg(fd int32, buf, control []byte, flags int) (recvResult, error) {
	var name [maxSockaddrLen]byte
	var iov unix.Iovec
	if len(buf) > 0 {
		iov.Base = &buf[0]
	}
	iov.SetLen(len(buf))
	var h unix.Msghdr
	h.Iov = &iov
	h.SetIovlen(1)
	h.Name = &name[0]
	h.Namelen = uint32(len(name))
	if len(control) > 0 {
		h.Control = &control[0]
		h.SetControllen(len(control))
	}
	for {
		n, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&h)), uintptr(flags))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return recvResult{}, errnoErr(e)
		}
		r := recvResult{n: int(n), flags: int(h.Flags)}
		if h.Namelen > 0 {
			r.from = append([]byte(nil), name[:min(int(h.Namelen), len(name))]...)
		}
		if cl := int(h.Controllen); cl > 0 {
			r.control = append([]byte(nil), control[:min(cl, len(control))]...)
		}
		return r, nil
	}
}

func hostClose(fd int32) { unix.Close(int(fd)) }

// runtimeKeepAlive keeps b reachable until a host call that was given
// its address as an integer has returned.
func runtimeKeepAlive(b []byte) { runtime.KeepAlive(b) }
