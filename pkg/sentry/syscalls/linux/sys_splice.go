package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/pipe"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// splice(2), tee(2), vmsplice(2) and copy_file_range(2). Data moves
// through kernel buffers of at most a pipe's capacity (or 64 KiB between
// files); pipe.Pipe's WriteTo and ReadFrom keep bytes the other side does
// not take in the pipe, as Linux's page-passing does.

// spliceFlags is SPLICE_F_ALL.
const spliceFlags = abilinux.SPLICE_F_MOVE | abilinux.SPLICE_F_NONBLOCK | abilinux.SPLICE_F_MORE | abilinux.SPLICE_F_GIFT

// copyChunk bounds one step of a file-to-file copy.
const copyChunk = 64 << 10

func copyInOffset(t *kernel.Task, addr uintptr) (int64, error) {
	var b [8]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(b[:])), nil
}

func copyOutOffset(t *kernel.Task, addr uintptr, off int64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(off))
	_, err := t.CopyOut(addr, b[:])
	return err
}

// Splice implements splice(2).
func Splice(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	inFD, inOffAddr, outFD, outOffAddr := args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Pointer()
	count, flags := int64(min(uint64(args[4].SizeT()), abilinux.MAX_RW_COUNT)), args[5].Uint()
	if count == 0 {
		return 0, nil
	}
	if flags&^spliceFlags != 0 {
		return 0, abilinux.EINVAL
	}
	ctx := t.Context()
	in, err := t.GetFile(inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef(ctx)
	out, err := t.GetFile(outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef(ctx)
	inPipe, inIsPipe := pipe.FromFD(in)
	outPipe, outIsPipe := pipe.FromFD(out)
	var inOff, outOff int64
	if inOffAddr != 0 {
		if inIsPipe {
			return 0, abilinux.ESPIPE
		}
		if inOff, err = copyInOffset(t, inOffAddr); err != nil {
			return 0, err
		}
	}
	if outOffAddr != 0 {
		if outIsPipe {
			return 0, abilinux.ESPIPE
		}
		if outOff, err = copyInOffset(t, outOffAddr); err != nil {
			return 0, err
		}
	}
	if !in.IsReadable() || !out.IsWritable() {
		return 0, abilinux.EBADF
	}
	nonblock := flags&abilinux.SPLICE_F_NONBLOCK != 0
	var n int64
	switch {
	case inIsPipe && outIsPipe:
		nonblock = nonblock || in.IsNonblocking() || out.IsNonblocking()
		n, err = pipe.Splice(ctx, inPipe, outPipe, count, nonblock)
	case inIsPipe:
		if outOffAddr != 0 && (out.IsStream() || outOff < 0) {
			return 0, abilinux.EINVAL
		}
		if out.StatusFlags()&abilinux.O_APPEND != 0 {
			return 0, abilinux.EINVAL
		}
		nonblock = nonblock || in.IsNonblocking()
		n, err = inPipe.WriteTo(ctx, count, nonblock, true, func(b []byte) (int64, error) {
			if outOffAddr != 0 {
				w, err := out.PWrite(ctx, vfs.BytesIOSequence(b), outOff, vfs.WriteOptions{})
				outOff += w
				return w, err
			}
			return out.Write(ctx, vfs.BytesIOSequence(b), vfs.WriteOptions{})
		})
		if outOffAddr != 0 && n > 0 {
			if cerr := copyOutOffset(t, outOffAddr, outOff); cerr != nil {
				return 0, cerr
			}
		}
	case outIsPipe:
		if inOffAddr != 0 && (in.IsStream() || inOff < 0) {
			return 0, abilinux.EINVAL
		}
		nonblock = nonblock || out.IsNonblocking()
		// SPLICE_F_NONBLOCK also makes a socket source non-blocking,
		// as Linux's socket splice_read does.
		ropts := vfs.ReadOptions{Nonblocking: flags&abilinux.SPLICE_F_NONBLOCK != 0}
		n, err = outPipe.ReadFrom(ctx, count, nonblock, func(b []byte) (int64, error) {
			if inOffAddr != 0 {
				r, err := in.PRead(ctx, vfs.BytesIOSequence(b), inOff, ropts)
				inOff += r
				return r, err
			}
			return in.Read(ctx, vfs.BytesIOSequence(b), ropts)
		})
		if inOffAddr != 0 && n > 0 {
			if cerr := copyOutOffset(t, inOffAddr, inOff); cerr != nil {
				return 0, cerr
			}
		}
	default:
		return 0, abilinux.EINVAL
	}
	return spliceResult(t, n, err)
}

// spliceResult reports a transfer: bytes moved win over a later error;
// EPIPE also raises SIGPIPE.
func spliceResult(t *kernel.Task, n int64, err error) (uintptr, error) {
	if err == abilinux.EPIPE {
		sendSIGPIPE(t)
	}
	if n > 0 {
		return uintptr(n), nil
	}
	return 0, err
}

// Tee implements tee(2).
func Tee(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	inFD, outFD := args[0].Int(), args[1].Int()
	count, flags := int64(min(uint64(args[2].SizeT()), abilinux.MAX_RW_COUNT)), args[3].Uint()
	if count == 0 {
		return 0, nil
	}
	if flags&^spliceFlags != 0 {
		return 0, abilinux.EINVAL
	}
	ctx := t.Context()
	in, err := getReadable(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef(ctx)
	out, err := getWritable(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef(ctx)
	inPipe, ok1 := pipe.FromFD(in)
	outPipe, ok2 := pipe.FromFD(out)
	if !ok1 || !ok2 {
		return 0, abilinux.EINVAL
	}
	nonblock := flags&abilinux.SPLICE_F_NONBLOCK != 0 || in.IsNonblocking() || out.IsNonblocking()
	n, err := pipe.Tee(ctx, inPipe, outPipe, count, nonblock)
	return spliceResult(t, n, err)
}

// Vmsplice implements vmsplice(2): iovecs into a pipe's write end, or out
// of its read end (like readv, consuming what is copied). The pages are
// copied, never gifted, so SPLICE_F_GIFT changes nothing.
func Vmsplice(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	fd, iovAddr, nr, flags := args[0].Int(), args[1].Pointer(), args[2].Uint64(), args[3].Uint()
	if flags&^spliceFlags != 0 {
		return 0, abilinux.EINVAL
	}
	ctx := t.Context()
	f, err := t.GetFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(ctx)
	toPipe := f.IsWritable()
	if !toPipe && !f.IsReadable() {
		return 0, abilinux.EBADF
	}
	if nr > abilinux.UIO_MAXIOV {
		return 0, abilinux.EINVAL
	}
	seq, err := IovecIOSequence(t, iovAddr, int(nr))
	if err != nil {
		return 0, err
	}
	count := seq.NumBytes()
	if count == 0 {
		return 0, nil
	}
	p, ok := pipe.FromFD(f)
	if !ok {
		return 0, abilinux.EBADF
	}
	nonblock := flags&abilinux.SPLICE_F_NONBLOCK != 0 || f.IsNonblocking()
	var n int64
	if toPipe {
		n, err = p.ReadFrom(ctx, count, nonblock, func(b []byte) (int64, error) {
			c, err := seq.CopyIn(ctx, b)
			if err == nil && c < len(b) {
				err = abilinux.EFAULT
			}
			return int64(c), err
		})
	} else {
		n, err = p.WriteTo(ctx, count, nonblock, true, func(b []byte) (int64, error) {
			c, err := seq.CopyOut(ctx, b)
			if err == nil && c < len(b) {
				err = abilinux.EFAULT
			}
			return int64(c), err
		})
	}
	return spliceResult(t, n, err)
}

// CopyFileRange implements copy_file_range(2) between regular files of
// one filesystem (EXDEV otherwise, as Linux answers for filesystems
// without their own copy method), copying through a kernel buffer.
func CopyFileRange(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	inFD, inOffAddr, outFD, outOffAddr := args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Pointer()
	count, flags := int64(min(uint64(args[4].SizeT()), abilinux.MAX_RW_COUNT)), args[5].Uint()
	ctx := t.Context()
	in, err := t.GetFile(inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef(ctx)
	out, err := t.GetFile(outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef(ctx)
	var inPos, outPos int64
	if inOffAddr != 0 {
		if inPos, err = copyInOffset(t, inOffAddr); err != nil {
			return 0, err
		}
	} else {
		inPos = in.Offset()
	}
	if outOffAddr != 0 {
		if outPos, err = copyInOffset(t, outOffAddr); err != nil {
			return 0, err
		}
	} else {
		outPos = out.Offset()
	}
	if flags != 0 {
		return 0, abilinux.EINVAL
	}
	inType, outType := fileType(in), fileType(out)
	if inType == abilinux.S_IFDIR || outType == abilinux.S_IFDIR {
		return 0, abilinux.EISDIR
	}
	if inType != abilinux.S_IFREG || outType != abilinux.S_IFREG {
		return 0, abilinux.EINVAL
	}
	if !in.IsReadable() || !out.IsWritable() || out.StatusFlags()&abilinux.O_APPEND != 0 {
		return 0, abilinux.EBADF
	}
	if in.Mount().Filesystem() != out.Mount().Filesystem() {
		return 0, abilinux.EXDEV
	}
	if inPos < 0 || outPos < 0 {
		return 0, abilinux.EINVAL
	}
	st, err := in.Stat(ctx, vfs.StatOptions{Mask: abilinux.STATX_SIZE})
	if err != nil {
		return 0, err
	}
	if size := int64(st.Size); inPos >= size {
		count = 0
	} else {
		count = min(count, size-inPos)
	}
	if in.Inode() == out.Inode() && outPos+count > inPos && outPos < inPos+count {
		return 0, abilinux.EINVAL
	}
	if count == 0 {
		return 0, nil
	}
	buf := make([]byte, min(count, copyChunk))
	var done int64
	for done < count {
		chunk := buf[:min(count-done, int64(len(buf)))]
		r, rerr := in.PRead(ctx, vfs.BytesIOSequence(chunk), inPos+done, vfs.ReadOptions{})
		if r == 0 {
			err = rerr
			break
		}
		w, werr := out.PWrite(ctx, vfs.BytesIOSequence(chunk[:r]), outPos+done, vfs.WriteOptions{})
		done += w
		if werr != nil || w < r {
			err = werr
			break
		}
	}
	if done > 0 {
		err = nil
		if inOffAddr != 0 {
			err = copyOutOffset(t, inOffAddr, inPos+done)
		} else {
			_, err = in.Seek(ctx, inPos+done, abilinux.SEEK_SET)
		}
		if err == nil && outOffAddr != 0 {
			err = copyOutOffset(t, outOffAddr, outPos+done)
		} else if err == nil {
			_, err = out.Seek(ctx, outPos+done, abilinux.SEEK_SET)
		}
		if err != nil {
			return 0, err
		}
		return uintptr(done), nil
	}
	return 0, err
}

// isPipeOrSocket reports whether f is a pipe, a FIFO or a socket.
func isPipeOrSocket(f *vfs.FileDescription) bool {
	if _, ok := pipe.FromFD(f); ok {
		return true
	}
	if _, ok := f.Impl().(socket.Socket); ok {
		return true
	}
	typ := fileType(f)
	return typ == abilinux.S_IFIFO || typ == abilinux.S_IFSOCK
}

// fileType is the S_IF* type of f, 0 for a file without a path.
func fileType(f *vfs.FileDescription) abilinux.FileMode {
	if !f.VirtualDentry().Ok() {
		return 0
	}
	return f.Inode().Type()
}
