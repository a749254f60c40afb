package linux

import (
	"encoding/binary"
	"sync"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/pipe"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// oNotificationPipe is O_NOTIFICATION_PIPE, pipe2's alias of O_EXCL that
// asks for a watch_queue(7) pipe.
const oNotificationPipe = abilinux.O_EXCL

// pipeFSMu guards pipeFSes, the pipefs instance of each VFS. It lives
// here until the kernel owns one (a Kernel field would also carry it
// through checkpoints; as it is, a restored kernel makes a new instance
// whose inode numbers restart).
var (
	pipeFSMu sync.Mutex
	pipeFSes = map[*vfs.VirtualFilesystem]*pipe.FS{}
)

func pipeFSOf(k *kernel.Kernel) *pipe.FS {
	pipeFSMu.Lock()
	defer pipeFSMu.Unlock()
	fs, ok := pipeFSes[k.VFS]
	if !ok {
		fs = pipe.NewFS(k.VFS)
		pipeFSes[k.VFS] = fs
	}
	return fs
}

// Pipe implements pipe(2).
func Pipe(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, pipe2(t, args[0].Pointer(), 0)
}

// Pipe2 implements pipe2(2). O_DIRECT is recorded in the status flags,
// but the pipe keeps byte-stream semantics rather than packet mode.
func Pipe2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, pipe2(t, args[0].Pointer(), args[1].Uint())
}

func pipe2(t *kernel.Task, addr uintptr, flags uint32) error {
	if flags&^(abilinux.O_CLOEXEC|abilinux.O_NONBLOCK|abilinux.O_DIRECT|oNotificationPipe) != 0 {
		return abilinux.EINVAL
	}
	if flags&oNotificationPipe != 0 {
		// What Linux says when built without watch queues.
		return abilinux.ENOPKG
	}
	ctx := t.Context()
	r, w, err := pipeFSOf(t.Kernel()).NewConnectedFDs(ctx, t.Credentials(), flags)
	if err != nil {
		return err
	}
	defer r.DecRef(ctx)
	defer w.DecRef(ctx)
	fds, err := t.FDTable().NewFDs(ctx, 0, []*vfs.FileDescription{r, w}, vfs.FDFlags{CloseOnExec: flags&abilinux.O_CLOEXEC != 0})
	if err != nil {
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(fds[0]))
	binary.LittleEndian.PutUint32(b[4:], uint32(fds[1]))
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		// Linux installs the descriptors only after the copy succeeds.
		for _, fd := range fds {
			if f := t.FDTable().Remove(fd); f != nil {
				f.DecRef(ctx)
			}
		}
		return err
	}
	return nil
}
