package linux

import (
	"context"
	"encoding/binary"
	"errors"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// maxSockaddrLen is sizeof(struct sockaddr_storage): longer addresses
// are EINVAL.
const maxSockaddrLen = 128

// sizeofMsghdr is sizeof(struct msghdr) on 64-bit architectures.
const sizeofMsghdr = 56

// socketType splits socket(2)'s type argument into the type and whether
// SOCK_NONBLOCK and SOCK_CLOEXEC are set.
func socketType(typ int32) (stype int, nonblock, cloexec bool, err error) {
	flags := typ &^ socket.SOCK_TYPE_MASK
	if flags&^(socket.SOCK_NONBLOCK|socket.SOCK_CLOEXEC) != 0 {
		return 0, false, false, abilinux.EINVAL
	}
	return int(typ & socket.SOCK_TYPE_MASK), flags&socket.SOCK_NONBLOCK != 0, flags&socket.SOCK_CLOEXEC != 0, nil
}

// Socket implements socket(2) for the families the sandbox's network
// mode registered.
func Socket(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	stype, nonblock, cloexec, err := socketType(args[1].Int())
	if err != nil {
		return 0, err
	}
	p, err := t.Kernel().Sockets.Lookup(int(args[0].Int()))
	if err != nil {
		return 0, err
	}
	ctx := t.Context()
	f, err := p.Socket(ctx, t.Kernel().VFS, stype, int(args[2].Int()), nonblock)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(ctx)
	fd, err := t.FDTable().NewFD(ctx, 0, f, vfs.FDFlags{CloseOnExec: cloexec})
	return uintptr(fd), err
}

// Socketpair implements socketpair(2).
func Socketpair(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	stype, nonblock, cloexec, err := socketType(args[1].Int())
	if err != nil {
		return 0, err
	}
	p, err := t.Kernel().Sockets.Lookup(int(args[0].Int()))
	if err != nil {
		return 0, err
	}
	ctx := t.Context()
	a, b, err := p.Pair(ctx, t.Kernel().VFS, stype, int(args[2].Int()), nonblock)
	if err != nil {
		return 0, err
	}
	defer a.DecRef(ctx)
	defer b.DecRef(ctx)
	fds, err := t.FDTable().NewFDs(ctx, 0, []*vfs.FileDescription{a, b}, vfs.FDFlags{CloseOnExec: cloexec})
	if err != nil {
		return 0, err
	}
	var buf [8]byte
	binary.LittleEndian.PutUint32(buf[0:], uint32(fds[0]))
	binary.LittleEndian.PutUint32(buf[4:], uint32(fds[1]))
	if _, err := t.CopyOut(args[3].Pointer(), buf[:]); err != nil {
		for _, fd := range fds {
			if f := t.FDTable().Remove(fd); f != nil {
				f.DecRef(ctx)
			}
		}
		return 0, err
	}
	return 0, nil
}

// getSocket returns fd's file and its socket, ENOTSOCK if it is not one.
func getSocket(t *kernel.Task, fd int32) (*vfs.FileDescription, socket.Socket, error) {
	f, err := t.GetFile(fd)
	if err != nil {
		return nil, nil, err
	}
	s, ok := f.Impl().(socket.Socket)
	if !ok {
		f.DecRef(t.Context())
		return nil, nil, abilinux.ENOTSOCK
	}
	return f, s, nil
}

// withSocket runs fn on fd's socket.
func withSocket(t *kernel.Task, fd int32, fn func(f *vfs.FileDescription, s socket.Socket) (uintptr, error)) (uintptr, error) {
	f, s, err := getSocket(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	return fn(f, s)
}

// copyInSockaddr reads an address argument.
func copyInSockaddr(t *kernel.Task, addr uintptr, addrlen int32) ([]byte, error) {
	if addrlen < 0 || addrlen > maxSockaddrLen {
		return nil, abilinux.EINVAL
	}
	b := make([]byte, addrlen)
	if _, err := t.CopyIn(addr, b); err != nil {
		return nil, err
	}
	return b, nil
}

// copyOutSockaddr implements the value-result address of accept,
// getsockname, recvfrom and friends: at most *lenAddr bytes of sa are
// written, and *lenAddr becomes sa's full length.
func copyOutSockaddr(t *kernel.Task, sa []byte, addr, lenAddr uintptr) error {
	if addr == 0 {
		return nil
	}
	var lb [4]byte
	if _, err := t.CopyIn(lenAddr, lb[:]); err != nil {
		return err
	}
	l := int32(binary.LittleEndian.Uint32(lb[:]))
	if l < 0 {
		return abilinux.EINVAL
	}
	if n := min(int(l), len(sa)); n > 0 {
		if _, err := t.CopyOut(addr, sa[:n]); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(len(sa)))
	_, err := t.CopyOut(lenAddr, lb[:])
	return err
}

// taskResolver gives socket families the task's file-system view.
type taskResolver struct{ t *kernel.Task }

// MakeSocketNode implements socket.Resolver.
func (r taskResolver) MakeSocketNode(ctx context.Context, path string) (vfs.VirtualDentry, error) {
	var vd vfs.VirtualDentry
	err := withPathString(r.t, abilinux.AT_FDCWD, path, false, false, func(pop *vfs.PathOperation) error {
		creds := r.t.Credentials()
		mode := abilinux.FileMode(abilinux.S_IFSOCK | 0o777&^r.t.FSContext().Umask())
		if err := r.t.Kernel().VFS.MknodAt(ctx, creds, pop, vfs.CreateOptions{Mode: mode}); err != nil {
			return err
		}
		var err error
		vd, err = r.t.Kernel().VFS.GetDentryAt(ctx, creds, pop, nil)
		return err
	})
	return vd, err
}

// LookupSocketNode implements socket.Resolver.
func (r taskResolver) LookupSocketNode(ctx context.Context, path string) (vfs.VirtualDentry, error) {
	var vd vfs.VirtualDentry
	err := withPathString(r.t, abilinux.AT_FDCWD, path, true, false, func(pop *vfs.PathOperation) error {
		var err error
		vd, err = r.t.Kernel().VFS.GetDentryAt(ctx, r.t.Credentials(), pop, nil)
		return err
	})
	return vd, err
}

// Bind implements bind(2).
func Bind(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(_ *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		sa, err := copyInSockaddr(t, args[1].Pointer(), args[2].Int())
		if err != nil {
			return 0, err
		}
		return 0, s.Bind(t.Context(), sa, taskResolver{t})
	})
}

// Listen implements listen(2).
func Listen(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(_ *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		return 0, s.Listen(t.Context(), int(args[1].Int()))
	})
}

// Connect implements connect(2). AF_UNIX connects complete at once or
// fail, so there is no EINPROGRESS.
func Connect(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(f *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		sa, err := copyInSockaddr(t, args[1].Pointer(), args[2].Int())
		if err != nil {
			return 0, err
		}
		return 0, s.Connect(t.Context(), sa, taskResolver{t}, f.IsNonblocking())
	})
}

// Accept implements accept(2).
func Accept(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return accept4(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), 0)
}

// Accept4 implements accept4(2).
func Accept4(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return accept4(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Int())
}

func accept4(t *kernel.Task, fd int32, addr, lenAddr uintptr, flags int32) (uintptr, error) {
	if flags&^(socket.SOCK_NONBLOCK|socket.SOCK_CLOEXEC) != 0 {
		return 0, abilinux.EINVAL
	}
	return withSocket(t, fd, func(f *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		ctx := t.Context()
		nf, err := s.Accept(ctx, f.IsNonblocking(), flags&socket.SOCK_NONBLOCK != 0)
		if err != nil {
			return 0, err
		}
		defer nf.DecRef(ctx)
		if addr != 0 {
			peer, err := nf.Impl().(socket.Socket).PeerName()
			if err != nil {
				peer = nil
			}
			// Linux reports a fault here after the connection is
			// taken, which is then lost; so is it here.
			if err := copyOutSockaddr(t, peer, addr, lenAddr); err != nil {
				return 0, err
			}
		}
		nfd, err := t.FDTable().NewFD(ctx, 0, nf, vfs.FDFlags{CloseOnExec: flags&socket.SOCK_CLOEXEC != 0})
		return uintptr(nfd), err
	})
}

// Getsockname implements getsockname(2).
func Getsockname(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(_ *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		return 0, copyOutSockaddr(t, s.SockName(), args[1].Pointer(), args[2].Pointer())
	})
}

// Getpeername implements getpeername(2).
func Getpeername(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(_ *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		sa, err := s.PeerName()
		if err != nil {
			return 0, err
		}
		return 0, copyOutSockaddr(t, sa, args[1].Pointer(), args[2].Pointer())
	})
}

// Shutdown implements shutdown(2).
func Shutdown(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(_ *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		return 0, s.Shutdown(int(args[1].Int()))
	})
}

// Getsockopt implements getsockopt(2).
func Getsockopt(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(_ *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		valAddr, lenAddr := args[3].Pointer(), args[4].Pointer()
		var lb [4]byte
		if _, err := t.CopyIn(lenAddr, lb[:]); err != nil {
			return 0, err
		}
		l := int32(binary.LittleEndian.Uint32(lb[:]))
		if l < 0 {
			return 0, abilinux.EINVAL
		}
		level, name := int(args[1].Int()), int(args[2].Int())
		v, err := s.GetSockOpt(t.Context(), level, name)
		if err != nil {
			return 0, err
		}
		v = shortIPOpt(level, name, int(l), v)
		n := min(int(l), len(v))
		if _, err := t.CopyOut(valAddr, v[:n]); err != nil {
			return 0, err
		}
		binary.LittleEndian.PutUint32(lb[:], uint32(n))
		_, err = t.CopyOut(lenAddr, lb[:])
		return 0, err
	})
}

// IPPROTO_IP options whose value is an int, which ip_getsockopt
// returns as one byte to a caller that has room for less than an int.
var ipIntOpts = map[int]bool{
	1: true, 2: true, 3: true, 6: true, 7: true, // IP_TOS, IP_TTL, IP_HDRINCL, IP_RECVOPTS, IP_RETOPTS
	8: true, 10: true, 11: true, 12: true, 13: true, // IP_PKTINFO, IP_MTU_DISCOVER, IP_RECVERR, IP_RECVTTL, IP_RECVTOS
	14: true, 15: true, 19: true, 24: true, // IP_MTU, IP_FREEBIND, IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT
	33: true, 34: true, // IP_MULTICAST_TTL, IP_MULTICAST_LOOP
}

// shortIPOpt is ip_getsockopt's answer to an optlen shorter than an
// int: an int option whose value fits in a byte is returned as that
// byte (and optlen 1).
func shortIPOpt(level, name, optlen int, v []byte) []byte {
	if level != 0 || !ipIntOpts[name] || optlen <= 0 || optlen >= 4 || len(v) != 4 {
		return v
	}
	if x := int32(binary.LittleEndian.Uint32(v)); x >= 0 && x <= 255 {
		return v[:1]
	}
	return v
}

// Setsockopt implements setsockopt(2).
func Setsockopt(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(_ *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		l := args[4].Int()
		if l < 0 {
			return 0, abilinux.EINVAL
		}
		v := make([]byte, min(int(l), 1024))
		if _, err := t.CopyIn(args[3].Pointer(), v); err != nil {
			return 0, err
		}
		return 0, s.SetSockOpt(int(args[1].Int()), int(args[2].Int()), v)
	})
}

// Sendto implements sendto(2).
func Sendto(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(f *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		src, err := SingleIOSequence(t, args[1].Pointer(), uint64(args[2].SizeT()))
		if err != nil {
			return 0, err
		}
		var sa []byte
		if addr := args[4].Pointer(); addr != 0 {
			if sa, err = copyInSockaddr(t, addr, args[5].Int()); err != nil {
				return 0, err
			}
		}
		flags := int(args[3].Int())
		n, err := s.SendMsg(t.Context(), src, sa, taskResolver{t}, nil, flags, f.IsNonblocking())
		return sendResult(t, flags, n, err)
	})
}

// sendResult raises SIGPIPE on EPIPE unless MSG_NOSIGNAL.
func sendResult(t *kernel.Task, flags int, n int64, err error) (uintptr, error) {
	if flags&socket.MSG_NOSIGNAL == 0 && errors.Is(err, abilinux.EPIPE) {
		sendSIGPIPE(t)
	}
	return readResult(n, err)
}

// Recvfrom implements recvfrom(2).
func Recvfrom(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(f *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		dst, err := SingleIOSequence(t, args[1].Pointer(), uint64(args[2].SizeT()))
		if err != nil {
			return 0, err
		}
		flags := int(args[3].Int())
		res, err := s.RecvMsg(t.Context(), dst, flags, f.IsNonblocking())
		// recvfrom has no control buffer: passed files are closed.
		dropFiles(t, res.Rights)
		if err != nil && res.N == 0 {
			return 0, err
		}
		if err := copyOutSockaddr(t, res.From, args[4].Pointer(), args[5].Pointer()); err != nil {
			return 0, err
		}
		if flags&socket.MSG_TRUNC != 0 {
			return uintptr(res.MsgLen), nil
		}
		return uintptr(res.N), nil
	})
}

// msghdr is struct msghdr on 64-bit architectures.
type msghdr struct {
	name       uint64
	namelen    uint32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
	flags      int32
}

func copyInMsghdr(t *kernel.Task, addr uintptr) (msghdr, error) {
	var b [sizeofMsghdr]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return msghdr{}, err
	}
	le := binary.LittleEndian
	return msghdr{
		name:       le.Uint64(b[0:]),
		namelen:    le.Uint32(b[8:]),
		iov:        le.Uint64(b[16:]),
		iovlen:     le.Uint64(b[24:]),
		control:    le.Uint64(b[32:]),
		controllen: le.Uint64(b[40:]),
		flags:      int32(le.Uint32(b[48:])),
	}, nil
}

// msgIOSequence reads a msghdr's iovec array.
func msgIOSequence(t *kernel.Task, h msghdr) (vfs.IOSequence, error) {
	if h.iovlen > abilinux.UIO_MAXIOV {
		return nil, abilinux.EMSGSIZE
	}
	return IovecIOSequence(t, uintptr(h.iov), int(h.iovlen))
}

// Sendmsg implements sendmsg(2): SCM_RIGHTS and SCM_CREDENTIALS
// control messages are decoded here, those of other levels by the
// socket's family.
func Sendmsg(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(f *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		h, err := copyInMsghdr(t, args[1].Pointer())
		if err != nil {
			return 0, err
		}
		src, err := msgIOSequence(t, h)
		if err != nil {
			return 0, err
		}
		ctl, err := copyInControl(t, h)
		if err != nil {
			return 0, err
		}
		var sa []byte
		if h.name != 0 && h.namelen != 0 {
			if sa, err = copyInSockaddr(t, uintptr(h.name), int32(min(h.namelen, maxSockaddrLen+1))); err != nil {
				dropFiles(t, ctl.Files())
				return 0, err
			}
		}
		flags := int(args[2].Int())
		n, err := s.SendMsg(t.Context(), src, sa, taskResolver{t}, ctl, flags, f.IsNonblocking())
		return sendResult(t, flags, n, err)
	})
}

// Recvmsg implements recvmsg(2), delivering SCM_RIGHTS and the control
// messages the socket's family produced.
func Recvmsg(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return withSocket(t, args[0].Int(), func(f *vfs.FileDescription, s socket.Socket) (uintptr, error) {
		addr := args[1].Pointer()
		h, err := copyInMsghdr(t, addr)
		if err != nil {
			return 0, err
		}
		dst, err := msgIOSequence(t, h)
		if err != nil {
			return 0, err
		}
		flags := int(args[2].Int())
		res, err := s.RecvMsg(t.Context(), dst, flags, f.IsNonblocking())
		if err != nil && res.N == 0 {
			dropFiles(t, res.Rights)
			return 0, err
		}
		controllen, ctrunc, err := copyOutControl(t, h, 0, res.LeadingControl)
		if err != nil {
			dropFiles(t, res.Rights)
			return 0, err
		}
		controllen, cut, err := copyOutRights(t, h, controllen, res.Rights, flags&socket.MSG_CMSG_CLOEXEC != 0)
		if err != nil {
			return 0, err
		}
		ctrunc = ctrunc || cut
		if len(res.Control) > 0 {
			var cut bool
			if controllen, cut, err = copyOutControl(t, h, controllen, res.Control); err != nil {
				return 0, err
			}
			ctrunc = ctrunc || cut
		}
		ctrunc = ctrunc || res.ControlTruncated
		namelen := uint32(0)
		if h.name != 0 && len(res.From) > 0 {
			n := min(int(h.namelen), len(res.From))
			if _, err := t.CopyOut(uintptr(h.name), res.From[:n]); err != nil {
				return 0, err
			}
			namelen = uint32(len(res.From))
		}
		var outFlags int32
		if res.Truncated {
			outFlags |= socket.MSG_TRUNC
		}
		if res.OOB {
			outFlags |= socket.MSG_OOB
		}
		if ctrunc {
			outFlags |= socket.MSG_CTRUNC
		}
		// Linux echoes MSG_CMSG_CLOEXEC back in msg_flags.
		outFlags |= int32(flags & socket.MSG_CMSG_CLOEXEC)
		var b [4]byte
		le := binary.LittleEndian
		le.PutUint32(b[:], namelen)
		if _, err := t.CopyOut(addr+8, b[:]); err != nil {
			return 0, err
		}
		var cl [8]byte
		le.PutUint64(cl[:], controllen)
		if _, err := t.CopyOut(addr+40, cl[:]); err != nil {
			return 0, err
		}
		le.PutUint32(b[:], uint32(outFlags))
		if _, err := t.CopyOut(addr+48, b[:]); err != nil {
			return 0, err
		}
		if flags&socket.MSG_TRUNC != 0 {
			return uintptr(res.MsgLen), nil
		}
		return uintptr(res.N), nil
	})
}
