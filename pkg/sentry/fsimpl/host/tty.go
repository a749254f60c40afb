package host

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	kern "appkernel.dev/appkernel/pkg/sentry/kernel" // not "kernel": stateify would keep an unused import
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// ttyState is what a host terminal keeps on the sandbox's side: its
// job-control state (the session it controls and its foreground process
// group), which the host cannot know since sessions and process groups
// exist only in the sandbox. Like Linux's, it belongs to the terminal, not
// to one open file, so stdin, stdout and stderr of one terminal share it.
// It implements kernel.TTY.
//
// +stateify savable
type ttyState struct {
	// rdev is the terminal's host device number.
	rdev uint64
	// refs counts the wrapped descriptors of the terminal; guarded by
	// filesystem.ttysMu.
	refs int

	// tc is the job-control state. The terminal is given to the session
	// of the first process the sandbox's owner started that uses it
	// (see kernel.TTYControl.Init), as runc makes a container's console
	// its controlling terminal.
	tc kern.TTYControl
	// lflag caches the host termios' c_lflag as last read or set here,
	// for TOSTOP on writes without a host call each time. A change made
	// by a process outside the sandbox is seen at the next TCGETS.
	lflag atomic.Uint32 `state:"nosave"`

	// filesMu guards files, the wrapped descriptors of the terminal,
	// through which /dev/tty reaches it (tty_dev.go). Host descriptors
	// do not survive a checkpoint, so neither does the list.
	filesMu sync.Mutex         `state:"nosave"`
	files   []*fileDescription `state:"nosave"`
}

// TTYControl implements kernel.TTY.
func (t *ttyState) TTYControl() *kern.TTYControl { return &t.tc }

// TTYDevice implements kernel.TTY: the host device number.
func (t *ttyState) TTYDevice() (uint32, uint32) { return unix.Major(t.rdev), unix.Minor(t.rdev) }

// acquireTTY returns the state of the terminal rdev, creating it if no
// descriptor of it is wrapped yet; termios is its current host termios.
func (fs *filesystem) acquireTTY(rdev uint64, termios []byte) *ttyState {
	fs.ttysMu.Lock()
	defer fs.ttysMu.Unlock()
	t, ok := fs.ttys[rdev]
	if !ok {
		t = &ttyState{rdev: rdev}
		t.tc.Init(t, true)
		if fs.ttys == nil {
			fs.ttys = make(map[uint64]*ttyState)
		}
		fs.ttys[rdev] = t
	}
	t.setTermios(termios)
	t.refs++
	return t
}

// setTermios records the flags of a termios the host reported or
// accepted.
func (t *ttyState) setTermios(b []byte) {
	var tm linux.Termios
	tm.UnmarshalBytes(b)
	t.lflag.Store(tm.LocalFlags)
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

// TTY returns the kernel's view of a host terminal file, nil if fd is not
// one.
func TTY(fd *vfs.FileDescription) kern.TTY {
	f, ok := fd.Impl().(*fileDescription)
	if !ok || !f.inode.isTTY {
		return nil
	}
	return f.inode.tty
}

// checkRead applies job control before a read of a terminal: a
// background process is stopped with SIGTTIN.
func (f *fileDescription) checkRead(ctx context.Context) error {
	if !f.inode.isTTY {
		return nil
	}
	return f.inode.tty.tc.CheckRead(ctx)
}

// checkWrite applies job control before a write to a terminal with
// TOSTOP set: a background process is stopped with SIGTTOU.
func (f *fileDescription) checkWrite(ctx context.Context) error {
	if !f.inode.isTTY || f.inode.tty.lflag.Load()&linux.TOSTOP == 0 {
		return nil
	}
	return f.inode.tty.tc.CheckChange(ctx)
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
	tc := &i.tty.tc
	switch cmd {
	case linux.TCGETS:
		var t [linux.SizeofTermios]byte
		if err := ioctlPtr(fd, cmd, &t[0]); err != nil {
			return 0, err
		}
		i.tty.setTermios(t[:])
		return 0, copyOut(ctx, mem, arg, t[:])

	case linux.TCSETS, linux.TCSETSW, linux.TCSETSF:
		var t [linux.SizeofTermios]byte
		if err := copyIn(ctx, mem, arg, t[:]); err != nil {
			return 0, err
		}
		if err := tc.CheckChange(ctx); err != nil {
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
		if err := ioctlPtr(fd, cmd, &t[0]); err != nil {
			return 0, err
		}
		i.tty.setTermios(t[:])
		return 0, nil

	case linux.TIOCGWINSZ:
		var w [8]byte
		if err := ioctlPtr(fd, cmd, &w[0]); err != nil {
			return 0, err
		}
		return 0, copyOut(ctx, mem, arg, w[:])

	case linux.TIOCSWINSZ:
		// The host signals SIGWINCH to its own foreground group (the
		// runtime's), not to the sandbox's: a change is signalled to
		// the sandbox's foreground group here.
		var w, old [8]byte
		if err := copyIn(ctx, mem, arg, w[:]); err != nil {
			return 0, err
		}
		if err := ioctlPtr(fd, linux.TIOCGWINSZ, &old[0]); err != nil {
			return 0, err
		}
		if err := ioctlPtr(fd, cmd, &w[0]); err != nil {
			return 0, err
		}
		if w != old {
			tc.SignalForeground(linux.SIGWINCH)
		}
		return 0, nil

	case linux.TIOCOUTQ:
		n, err := ioctlGetInt(fd, cmd)
		if err != nil {
			return 0, err
		}
		return 0, copyOutInt32(ctx, mem, arg, n)

	case linux.TCFLSH, linux.TCXONC:
		// The argument is a value (TCIFLUSH..., TCOOFF...), checked
		// by the host.
		if err := tc.CheckChange(ctx); err != nil {
			return 0, err
		}
		return 0, ioctlValue(fd, cmd, arg)

	// Job control is the sandbox's: the host terminal is not asked (it
	// would make it the Sentry's own controlling terminal, or report
	// the host's process groups).
	case linux.TIOCGPGRP:
		pgid, err := tc.ForegroundProcessGroup(ctx, false)
		if err != nil {
			return 0, err
		}
		return 0, copyOutInt32(ctx, mem, arg, pgid)

	case linux.TIOCSPGRP:
		var b [4]byte
		if err := copyIn(ctx, mem, arg, b[:]); err != nil {
			return 0, err
		}
		return 0, tc.SetForegroundProcessGroup(ctx, int32(binary.NativeEndian.Uint32(b[:])))

	case linux.TIOCGSID:
		sid, err := tc.SessionID(ctx, false)
		if err != nil {
			return 0, err
		}
		return 0, copyOutInt32(ctx, mem, arg, sid)

	case linux.TIOCSCTTY:
		return 0, tc.SetControlling(ctx, f.vfsfd.IsReadable(), arg == 1)

	case linux.TIOCNOTTY:
		return 0, tc.ReleaseControlling(ctx)
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
