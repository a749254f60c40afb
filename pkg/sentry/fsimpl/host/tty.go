package host

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// ttyState is what a host terminal keeps on the sandbox's side: the
// foreground process group, which the host cannot know. Like Linux's,
// it belongs to the terminal, not to one open file, so stdin, stdout and
// stderr of one terminal share it.
//
// +stateify savable
type ttyState struct {
	// rdev is the terminal's host device number.
	rdev uint64
	// refs counts the wrapped descriptors of the terminal; guarded by
	// filesystem.ttysMu.
	refs int

	// mu guards fgPGID.
	mu sync.Mutex // +state:nosave
	// fgPGID is the foreground process group in the root PID namespace
	// (as given when no JobControl translates it).
	fgPGID int32
}

// acquireTTY returns the state of the terminal rdev, creating it with
// foreground group pgid if no descriptor of it is wrapped yet.
func (fs *filesystem) acquireTTY(rdev uint64, pgid int32) *ttyState {
	fs.ttysMu.Lock()
	defer fs.ttysMu.Unlock()
	t, ok := fs.ttys[rdev]
	if !ok {
		t = &ttyState{rdev: rdev, fgPGID: pgid}
		if fs.ttys == nil {
			fs.ttys = make(map[uint64]*ttyState)
		}
		fs.ttys[rdev] = t
	}
	t.refs++
	return t
}

// releaseTTY drops a descriptor's use of t; a terminal with no wrapped
// descriptors left is forgotten.
func (fs *filesystem) releaseTTY(t *ttyState) {
	fs.ttysMu.Lock()
	defer fs.ttysMu.Unlock()
	if t.refs--; t.refs == 0 {
		delete(fs.ttys, t.rdev)
	}
}

// drainPollInterval is how often TCSETSW and TCSETSF look at the output
// queue while waiting for it to empty: the host has no event for "all
// output transmitted".
const drainPollInterval = 5 * time.Millisecond

// IsTTY reports whether fd is a host file that is a terminal.
func IsTTY(fd *vfs.FileDescription) bool {
	f, ok := fd.Impl().(*fileDescription)
	return ok && f.inode.isTTY
}

// ForegroundProcessGroup returns the foreground process group (root PID
// namespace) of a host terminal, for the kernel's job control (sending
// SIGINT, SIGWINCH, SIGTTIN/SIGTTOU). ok is false if fd is not one.
func ForegroundProcessGroup(fd *vfs.FileDescription) (pgid int32, ok bool) {
	f, ok := fd.Impl().(*fileDescription)
	if !ok || !f.inode.isTTY {
		return 0, false
	}
	t := f.inode.tty
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fgPGID, true
}

// ioctl implements the ioctls of host files. Terminal requests go to
// the host terminal, whose settings are the real ones; FIONREAD works
// on anything the host answers it for.
func (f *fileDescription) ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	i := f.inode
	fd := int(i.hostFD)
	if cmd == linux.FIONREAD { // also TIOCINQ
		var n int32
		if i.ftype == linux.S_IFREG {
			// Linux answers this for regular files itself, from the
			// size and this description's offset.
			var st unix.Stat_t
			if err := fstat(fd, &st); err != nil {
				return 0, err
			}
			n = int32(min(max(st.Size-f.vfsfd.Offset(), 0), 1<<31-1))
		} else {
			var err error
			if n, err = ioctlGetInt(fd, linux.FIONREAD); err != nil {
				return 0, err
			}
		}
		return 0, copyOutInt32(ctx, mem, arg, n)
	}
	if !i.isTTY {
		return 0, linux.ENOTTY
	}
	switch cmd {
	case linux.TCGETS:
		var t [linux.SizeofTermios]byte
		if err := ioctlPtr(fd, cmd, &t[0]); err != nil {
			return 0, err
		}
		return 0, copyOut(ctx, mem, arg, t[:])

	case linux.TCSETS, linux.TCSETSW, linux.TCSETSF:
		var t [linux.SizeofTermios]byte
		if err := copyIn(ctx, mem, arg, t[:]); err != nil {
			return 0, err
		}
		if cmd != linux.TCSETS {
			// The host would wait for the output to drain inside
			// the ioctl, uninterruptibly for us; wait here instead,
			// so that a signal can cut the wait short, and let the
			// host call find the queue empty.
			if err := f.waitOutputDrained(ctx); err != nil {
				return 0, err
			}
		}
		return 0, ioctlPtr(fd, cmd, &t[0])

	case linux.TIOCGWINSZ:
		var w [8]byte
		if err := ioctlPtr(fd, cmd, &w[0]); err != nil {
			return 0, err
		}
		return 0, copyOut(ctx, mem, arg, w[:])

	case linux.TIOCSWINSZ:
		// The host signals SIGWINCH to its own foreground group (the
		// runtime), not to the sandbox's; the kernel is told nothing
		// here, which is a gap until it has a hook for it.
		var w [8]byte
		if err := copyIn(ctx, mem, arg, w[:]); err != nil {
			return 0, err
		}
		return 0, ioctlPtr(fd, cmd, &w[0])

	case linux.TIOCOUTQ:
		n, err := ioctlGetInt(fd, cmd)
		if err != nil {
			return 0, err
		}
		return 0, copyOutInt32(ctx, mem, arg, n)

	case linux.TCFLSH, linux.TCXONC:
		// The argument is a value (TCIFLUSH..., TCOOFF...), checked
		// by the host.
		return 0, ioctlValue(fd, cmd, arg)

	case linux.TIOCGPGRP:
		i.tty.mu.Lock()
		pgid := i.tty.fgPGID
		i.tty.mu.Unlock()
		if jc := jobControlFromContext(ctx); jc != nil {
			pgid = jc.VisibleProcessGroup(ctx, pgid)
		}
		return 0, copyOutInt32(ctx, mem, arg, pgid)

	case linux.TIOCSPGRP:
		var b [4]byte
		if err := copyIn(ctx, mem, arg, b[:]); err != nil {
			return 0, err
		}
		pgid := int32(binary.NativeEndian.Uint32(b[:]))
		if pgid < 0 {
			return 0, linux.EINVAL
		}
		if jc := jobControlFromContext(ctx); jc != nil {
			root, err := jc.ForegroundGroupToSet(ctx, pgid)
			if err != nil {
				return 0, err
			}
			pgid = root
		}
		i.tty.mu.Lock()
		i.tty.fgPGID = pgid
		i.tty.mu.Unlock()
		return 0, nil

	case linux.TIOCSCTTY, linux.TIOCNOTTY:
		// Controlling terminals are a property of the sandbox's
		// sessions, which the kernel keeps; the host terminal is not
		// asked (it would try to make it the Sentry's own).
		return 0, nil
	}
	return 0, linux.ENOTTY
}

// waitOutputDrained waits until the terminal's output queue is empty,
// polling it interruptibly.
func (f *fileDescription) waitOutputDrained(ctx context.Context) error {
	b := vfs.BlockerFromContext(ctx)
	for {
		n, err := ioctlGetInt(int(f.inode.hostFD), linux.TIOCOUTQ)
		if err != nil || n == 0 {
			return err
		}
		// A nil channel is never ready: only the deadline or an
		// interrupt ends this sleep.
		if err := b.BlockWithDeadline(nil, time.Now().Add(drainPollInterval)); err != vfs.ErrTimedOut {
			if err == nil {
				continue
			}
			return err
		}
	}
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

func copyOutInt32(ctx context.Context, mem vfs.UserMemory, addr uint64, v int32) error {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(v))
	return copyOut(ctx, mem, addr, b[:])
}
