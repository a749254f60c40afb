package devpts

import (
	"context"
	"encoding/binary"
	"strconv"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// ioctl implements the terminal ioctls of both ends. As in Linux, the
// settings (termios, window size) and job-control state are the
// replica's whichever end is asked; TIOCGPTN, TIOCSPTLCK, TIOCGPTLCK
// and TIOCGPTPEER are the master's.
func (p *pty) ioctl(ctx context.Context, fd *vfs.FileDescription, mem vfs.UserMemory, master bool, cmd uint32, arg uint64) (uint64, error) {
	l := p.ld
	if !master && p.hungUp() {
		if cmd == linux.TIOCSPGRP {
			return 0, linux.ENOTTY
		}
		return 0, linux.EIO
	}
	switch cmd {
	case linux.TIOCGPTN, linux.TIOCGPTLCK, linux.TIOCSPTLCK, linux.TIOCGPTPEER:
		if !master {
			return 0, linux.ENOTTY
		}
	}
	switch cmd {
	case linux.TIOCGPTN:
		return 0, putU32(ctx, mem, arg, p.index)

	case linux.TIOCGPTLCK:
		l.mu.Lock()
		v := p.locked
		l.mu.Unlock()
		return 0, putU32(ctx, mem, arg, b2u(v))

	case linux.TIOCSPTLCK:
		v, err := getU32(ctx, mem, arg)
		if err != nil {
			return 0, err
		}
		l.mu.Lock()
		p.locked = v != 0
		l.mu.Unlock()
		return 0, nil

	case linux.TIOCGPTPEER:
		return p.openPeer(ctx, fd, uint32(arg))

	case linux.TCGETS:
		l.mu.Lock()
		t := l.termios
		l.mu.Unlock()
		b := make([]byte, linux.SizeofTermios)
		t.MarshalBytes(b)
		return 0, copyOut(ctx, mem, arg, b)

	case linux.TCGETS2:
		l.mu.Lock()
		t := linux.Termios2{Termios: l.termios, InputSpeed: l.ispeed, OutputSpeed: l.ospeed}
		l.mu.Unlock()
		b := make([]byte, linux.SizeofTermios2)
		t.MarshalBytes(b)
		return 0, copyOut(ctx, mem, arg, b)

	case linux.TCSETS, linux.TCSETSW, linux.TCSETSF, linux.TCSETS2, linux.TCSETSW2, linux.TCSETSF2:
		return 0, p.setTermios(ctx, mem, cmd, arg)

	case linux.TIOCGWINSZ:
		l.mu.Lock()
		w := l.winsize
		l.mu.Unlock()
		b := make([]byte, w.SizeBytes())
		w.MarshalBytes(b)
		return 0, copyOut(ctx, mem, arg, b)

	case linux.TIOCSWINSZ:
		var w linux.Winsize
		b := make([]byte, w.SizeBytes())
		if err := copyIn(ctx, mem, arg, b); err != nil {
			return 0, err
		}
		w.UnmarshalBytes(b)
		l.mu.Lock()
		changed := w != l.winsize
		l.winsize = w
		l.mu.Unlock()
		if changed {
			p.tc.SignalForeground(linux.SIGWINCH)
		}
		return 0, nil

	case linux.FIONREAD: // TIOCINQ
		l.mu.Lock()
		n := l.inputAvailableLocked()
		if master {
			n = l.out.len()
		}
		l.mu.Unlock()
		return 0, putU32(ctx, mem, arg, uint32(n))

	case linux.TIOCOUTQ:
		// Linux's ptys keep no output buffer of their own: what one
		// end wrote is already the other end's input.
		return 0, putU32(ctx, mem, arg, 0)

	case linux.TCFLSH:
		if err := p.tc.CheckChange(ctx); err != nil {
			return 0, err
		}
		l.mu.Lock()
		defer l.unlock()
		in, out := l.flushInputLocked, l.flushOutputLocked
		if master {
			// The master's input is the replica's output.
			in, out = out, in
		}
		switch arg {
		case linux.TCIFLUSH:
			in()
		case linux.TCOFLUSH:
			out()
		case linux.TCIOFLUSH:
			in()
			out()
		default:
			return 0, linux.EINVAL
		}
		return 0, nil

	case linux.TCXONC:
		if err := p.tc.CheckChange(ctx); err != nil {
			return 0, err
		}
		return 0, p.flow(master, arg)

	case linux.TIOCSCTTY:
		return 0, p.tc.SetControlling(ctx, fd.IsReadable(), arg == 1)

	case linux.TIOCNOTTY:
		if master {
			return 0, linux.ENOTTY
		}
		return 0, p.tc.ReleaseControlling(ctx)

	case linux.TIOCGPGRP:
		pgid, err := p.tc.ForegroundProcessGroup(ctx, master)
		if err != nil {
			return 0, err
		}
		return 0, putU32(ctx, mem, arg, uint32(pgid))

	case linux.TIOCSPGRP:
		v, err := getU32(ctx, mem, arg)
		if err != nil {
			return 0, err
		}
		return 0, p.tc.SetForegroundProcessGroup(ctx, int32(v))

	case linux.TIOCGSID:
		sid, err := p.tc.SessionID(ctx, master)
		if err != nil {
			return 0, err
		}
		return 0, putU32(ctx, mem, arg, uint32(sid))

	case linux.TIOCEXCL, linux.TIOCNXCL:
		l.mu.Lock()
		p.exclusive = cmd == linux.TIOCEXCL
		l.mu.Unlock()
		return 0, nil

	case linux.TIOCGEXCL:
		l.mu.Lock()
		v := p.exclusive
		l.mu.Unlock()
		return 0, putU32(ctx, mem, arg, b2u(v))

	case linux.TIOCGETD:
		return 0, putU32(ctx, mem, arg, linux.N_TTY)

	case linux.TIOCSETD:
		v, err := getU32(ctx, mem, arg)
		if err != nil {
			return 0, err
		}
		if v != linux.N_TTY {
			return 0, linux.EINVAL
		}
		return 0, nil
	}
	return 0, linux.ENOTTY
}

// setTermios implements TCSETS and its variants: a background caller is
// stopped first; TCSETSF discards pending input. TCSETSW's wait for output
// to drain is immediate for a pty, which buffers none.
func (p *pty) setTermios(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) error {
	two := cmd == linux.TCSETS2 || cmd == linux.TCSETSW2 || cmd == linux.TCSETSF2
	var t2 linux.Termios2
	size := linux.SizeofTermios
	if two {
		size = linux.SizeofTermios2
	}
	b := make([]byte, size)
	if err := copyIn(ctx, mem, arg, b); err != nil {
		return err
	}
	if two {
		t2.UnmarshalBytes(b)
	} else {
		t2.Termios.UnmarshalBytes(b)
	}
	if err := p.tc.CheckChange(ctx); err != nil {
		return err
	}
	l := p.ld
	l.mu.Lock()
	defer l.unlock()
	if cmd == linux.TCSETSF || cmd == linux.TCSETSF2 {
		l.flushInputLocked()
	}
	l.setTermiosLocked(t2.Termios)
	if two {
		if t2.ControlFlags&linux.CBAUD == linux.BOTHER {
			l.ospeed = t2.OutputSpeed
		}
		if t2.ControlFlags>>linux.IBSHIFT&linux.CBAUD == linux.BOTHER {
			l.ispeed = t2.InputSpeed
		}
	}
	return nil
}

// flow implements TCXONC: TCOOFF and TCOON suspend and resume the
// replica's output; TCIOFF and TCION send the STOP and START characters
// to the other end.
func (p *pty) flow(master bool, arg uint64) error {
	l := p.ld
	l.mu.Lock()
	defer l.unlock()
	switch arg {
	case linux.TCOOFF, linux.TCOON:
		l.setStoppedLocked(arg == linux.TCOOFF)
	case linux.TCIOFF, linux.TCION:
		i := linux.VSTOP
		if arg == linux.TCION {
			i = linux.VSTART
		}
		c := l.termios.ControlCharacters[i]
		if c == 0 {
			return nil
		}
		if master {
			l.receiveLocked(c)
		} else {
			l.out.push(c)
			l.pendingMaster |= waiter.ReadableEvents
		}
	default:
		return linux.EINVAL
	}
	return nil
}

// openPeer implements TIOCGPTPEER: open the replica with flags as open(2)
// would and install it in the caller's descriptor table.
func (p *pty) openPeer(ctx context.Context, master *vfs.FileDescription, flags uint32) (uint64, error) {
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		return 0, linux.EINVAL
	}
	creds := auth.CredentialsFromContext(ctx)
	mnt := master.Mount()
	root := vfs.MakeVirtualDentry(mnt, mnt.Root())
	vfsObj := p.fs.vfsfs.VirtualFilesystem()
	f, err := vfsObj.OpenAt(ctx, creds, &vfs.PathOperation{Root: root, Start: root, Path: strconv.Itoa(int(p.index))}, &vfs.OpenOptions{Flags: flags &^ linux.O_CLOEXEC})
	if err != nil {
		if err == linux.ENOENT {
			err = linux.EIO
		}
		return 0, err
	}
	defer f.DecRef(ctx)
	n, err := t.FDTable().NewFD(ctx, 0, f, vfs.FDFlags{CloseOnExec: flags&linux.O_CLOEXEC != 0})
	return uint64(n), err
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func copyOut(ctx context.Context, mem vfs.UserMemory, addr uint64, src []byte) error {
	n, err := mem.CopyOutBytes(ctx, addr, src)
	if err == nil && n < len(src) {
		err = linux.EFAULT
	}
	return err
}

func copyIn(ctx context.Context, mem vfs.UserMemory, addr uint64, dst []byte) error {
	n, err := mem.CopyInBytes(ctx, addr, dst)
	if err == nil && n < len(dst) {
		err = linux.EFAULT
	}
	return err
}

func putU32(ctx context.Context, mem vfs.UserMemory, addr uint64, v uint32) error {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return copyOut(ctx, mem, addr, b[:])
}

func getU32(ctx context.Context, mem vfs.UserMemory, addr uint64) (uint32, error) {
	var b [4]byte
	if err := copyIn(ctx, mem, addr, b[:]); err != nil {
		return 0, err
	}
	return binary.NativeEndian.Uint32(b[:]), nil
}
