package linux

import (
	"errors"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// RWF_* flags of preadv2/pwritev2 newer than the ABI package lists.
const (
	rwfNoAppend  = 0x20
	rwfAtomic    = 0x40
	rwfDontCache = 0x80
)

// rwfSupported are the preadv2/pwritev2 flags honoured here. Newer ones
// fail with EOPNOTSUPP, as Linux answers for files that cannot do them:
// RWF_ATOMIC and RWF_DONTCACHE need filesystem support none of ours has,
// and RWF_NOAPPEND would need the VFS to let a write ignore O_APPEND.
const rwfSupported = abilinux.RWF_HIPRI | abilinux.RWF_DSYNC | abilinux.RWF_SYNC | abilinux.RWF_NOWAIT | abilinux.RWF_APPEND

func checkRWFlags(flags uint32) error {
	if flags&^rwfSupported != 0 {
		return abilinux.EOPNOTSUPP
	}
	return nil
}

// getReadable returns fd's file if it is open for reading; EBADF comes
// before anything about the buffer, as in Linux.
func getReadable(t *kernel.Task, fd int32) (*vfs.FileDescription, error) {
	f, err := t.GetFile(fd)
	if err != nil {
		return nil, err
	}
	if !f.IsReadable() {
		f.DecRef(t.Context())
		return nil, abilinux.EBADF
	}
	return f, nil
}

func getWritable(t *kernel.Task, fd int32) (*vfs.FileDescription, error) {
	f, err := t.GetFile(fd)
	if err != nil {
		return nil, err
	}
	if !f.IsWritable() {
		f.DecRef(t.Context())
		return nil, abilinux.EBADF
	}
	return f, nil
}

// getPositional is getReadable/getWritable for pread-style calls, where
// Linux reports ESPIPE for a file without an offset before checking the
// access mode.
func getPositional(t *kernel.Task, fd int32, write bool) (*vfs.FileDescription, error) {
	f, err := t.GetFile(fd)
	if err != nil {
		return nil, err
	}
	switch {
	case f.StatusFlags()&abilinux.O_PATH != 0:
		err = abilinux.EBADF
	case f.IsStream():
		err = abilinux.ESPIPE
	case write && !f.IsWritable(), !write && !f.IsReadable():
		err = abilinux.EBADF
	}
	if err != nil {
		f.DecRef(t.Context())
		return nil, err
	}
	return f, nil
}

// readResult turns a transfer's outcome into the syscall's: bytes moved
// win over a later error (a fault, an interruption, EAGAIN), as in Linux.
func readResult(n int64, err error) (uintptr, error) {
	if n > 0 {
		return uintptr(n), nil
	}
	return 0, err
}

// writeResult is readResult for writes, which also raise SIGPIPE on the
// calling thread when the reading side is gone (EPIPE), even after a
// partial write.
func writeResult(t *kernel.Task, n int64, err error) (uintptr, error) {
	if errors.Is(err, abilinux.EPIPE) {
		sendSIGPIPE(t)
	}
	return readResult(n, err)
}

func sendSIGPIPE(t *kernel.Task) {
	info := &abilinux.SignalInfo{Signo: int32(abilinux.SIGPIPE), Code: abilinux.SI_USER}
	info.SetPID(int32(t.ThreadGroup().ID()))
	info.SetUID(uint32(t.Credentials().RealKUID))
	t.SendSignal(info)
}

// Read implements read(2).
func Read(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := getReadable(t, args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	dst, err := SingleIOSequence(t, args[1].Pointer(), uint64(args[2].SizeT()))
	if err != nil {
		return 0, err
	}
	return readResult(f.Read(t.Context(), dst, vfs.ReadOptions{}))
}

// Write implements write(2).
func Write(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := getWritable(t, args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	src, err := SingleIOSequence(t, args[1].Pointer(), uint64(args[2].SizeT()))
	if err != nil {
		return 0, err
	}
	n, err := f.Write(t.Context(), src, vfs.WriteOptions{})
	return writeResult(t, n, err)
}

// Pread64 implements pread64(2).
func Pread64(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	offset := args[3].Int64()
	if offset < 0 {
		return 0, abilinux.EINVAL
	}
	f, err := getPositional(t, args[0].Int(), false)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	dst, err := SingleIOSequence(t, args[1].Pointer(), uint64(args[2].SizeT()))
	if err != nil {
		return 0, err
	}
	return readResult(f.PRead(t.Context(), dst, offset, vfs.ReadOptions{}))
}

// Pwrite64 implements pwrite64(2).
func Pwrite64(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	offset := args[3].Int64()
	if offset < 0 {
		return 0, abilinux.EINVAL
	}
	f, err := getPositional(t, args[0].Int(), true)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	src, err := SingleIOSequence(t, args[1].Pointer(), uint64(args[2].SizeT()))
	if err != nil {
		return 0, err
	}
	n, err := f.PWrite(t.Context(), src, offset, vfs.WriteOptions{})
	return writeResult(t, n, err)
}

// iovcntArg checks readv's unsigned long vlen.
func iovcntArg(v uint64) (int, error) {
	if v > abilinux.UIO_MAXIOV {
		return 0, abilinux.EINVAL
	}
	return int(v), nil
}

// Readv implements readv(2).
func Readv(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return preadv(t, args[0].Int(), args[1].Pointer(), args[2].Uint64(), -1, 0)
}

// Writev implements writev(2).
func Writev(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return pwritev(t, args[0].Int(), args[1].Pointer(), args[2].Uint64(), -1, 0)
}

// Preadv implements preadv(2). On 64-bit targets the offset is the whole
// fourth argument (the fifth, its high half on 32-bit ones, is unused).
func Preadv(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	offset := args[3].Int64()
	if offset < 0 {
		return 0, abilinux.EINVAL
	}
	return preadv(t, args[0].Int(), args[1].Pointer(), args[2].Uint64(), offset, 0)
}

// Pwritev implements pwritev(2).
func Pwritev(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	offset := args[3].Int64()
	if offset < 0 {
		return 0, abilinux.EINVAL
	}
	return pwritev(t, args[0].Int(), args[1].Pointer(), args[2].Uint64(), offset, 0)
}

// Preadv2 implements preadv2(2): offset -1 reads at the file offset.
func Preadv2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	offset := args[3].Int64()
	if offset < -1 {
		return 0, abilinux.EINVAL
	}
	return preadv(t, args[0].Int(), args[1].Pointer(), args[2].Uint64(), offset, args[5].Uint())
}

// Pwritev2 implements pwritev2(2): offset -1 writes at the file offset.
func Pwritev2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	offset := args[3].Int64()
	if offset < -1 {
		return 0, abilinux.EINVAL
	}
	return pwritev(t, args[0].Int(), args[1].Pointer(), args[2].Uint64(), offset, args[5].Uint())
}

// preadv reads into the iovecs at addr, at offset or (-1) at the file
// offset.
func preadv(t *kernel.Task, fd int32, addr uintptr, vlen uint64, offset int64, flags uint32) (uintptr, error) {
	var f *vfs.FileDescription
	var err error
	if offset == -1 {
		f, err = getReadable(t, fd)
	} else {
		f, err = getPositional(t, fd, false)
	}
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	iovcnt, err := iovcntArg(vlen)
	if err != nil {
		return 0, err
	}
	dst, err := IovecIOSequence(t, addr, iovcnt)
	if err != nil {
		return 0, err
	}
	if err := checkRWFlags(flags); err != nil {
		return 0, err
	}
	opts := vfs.ReadOptions{Flags: flags, Nonblocking: flags&abilinux.RWF_NOWAIT != 0}
	if offset == -1 {
		return readResult(f.Read(t.Context(), dst, opts))
	}
	return readResult(f.PRead(t.Context(), dst, offset, opts))
}

func pwritev(t *kernel.Task, fd int32, addr uintptr, vlen uint64, offset int64, flags uint32) (uintptr, error) {
	var f *vfs.FileDescription
	var err error
	if offset == -1 {
		f, err = getWritable(t, fd)
	} else {
		f, err = getPositional(t, fd, true)
	}
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	iovcnt, err := iovcntArg(vlen)
	if err != nil {
		return 0, err
	}
	src, err := IovecIOSequence(t, addr, iovcnt)
	if err != nil {
		return 0, err
	}
	if err := checkRWFlags(flags); err != nil {
		return 0, err
	}
	opts := vfs.WriteOptions{
		Flags:       flags,
		Nonblocking: flags&abilinux.RWF_NOWAIT != 0,
		Append:      flags&abilinux.RWF_APPEND != 0,
	}
	var n int64
	if offset == -1 {
		n, err = f.Write(t.Context(), src, opts)
	} else {
		n, err = f.PWrite(t.Context(), src, offset, opts)
	}
	if err == nil && n > 0 && flags&(abilinux.RWF_DSYNC|abilinux.RWF_SYNC) != 0 && f.Inode().Type() == abilinux.S_IFREG {
		// Per-write O_DSYNC/O_SYNC: the data must be durable before
		// the call returns, and a failure to make it so is the
		// call's error. Only files with storage behind them sync.
		if serr := f.Sync(t.Context()); serr != nil {
			return 0, serr
		}
	}
	return writeResult(t, n, err)
}
