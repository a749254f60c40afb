package linux

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"syscall"
	"time"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/eventfd"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Linux native AIO (io_setup(2) and friends; include/uapi/linux/aio_abi.h).
// The contexts, their rings and waiting live in the kernel package
// (kernel/aio.go); this file decodes struct iocb and performs requests.
//
// As Linux does for buffered files, reads, writes and syncs run to
// completion inside io_submit (a read from an empty pipe blocks there, and
// an interruption completes the request with -EINTR); IOCB_CMD_POLL waits
// asynchronously and is the one kind io_cancel can cancel.

// struct iocb opcodes and flags.
const (
	iocbCmdPread   = 0
	iocbCmdPwrite  = 1
	iocbCmdFsync   = 2
	iocbCmdFdsync  = 3
	iocbCmdPoll    = 5
	iocbCmdPreadv  = 7
	iocbCmdPwritev = 8

	iocbFlagResfd  = 1 << 0
	iocbFlagIoprio = 1 << 1

	iocbSize = 64
	// iocbKeyOffset is where aio_key sits (little endian: before
	// aio_rw_flags); Linux writes KIOCB_KEY (0) there at submission and
	// io_cancel checks it.
	iocbKeyOffset = 8
)

// iocb is struct iocb.
type iocb struct {
	data     uint64
	key      uint32
	rwFlags  uint32
	opcode   uint16
	reqprio  int16
	fildes   uint32
	buf      uint64
	nbytes   uint64
	offset   int64
	reserved uint64
	flags    uint32
	resfd    uint32
}

func decodeIocb(b []byte) iocb {
	le := binary.LittleEndian
	return iocb{
		data:     le.Uint64(b[0:]),
		key:      le.Uint32(b[8:]),
		rwFlags:  le.Uint32(b[12:]),
		opcode:   le.Uint16(b[16:]),
		reqprio:  int16(le.Uint16(b[18:])),
		fildes:   le.Uint32(b[20:]),
		buf:      le.Uint64(b[24:]),
		nbytes:   le.Uint64(b[32:]),
		offset:   int64(le.Uint64(b[40:])),
		reserved: le.Uint64(b[48:]),
		flags:    le.Uint32(b[56:]),
		resfd:    le.Uint32(b[60:]),
	}
}

// IoSetup implements io_setup(2).
func IoSetup(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	nrEvents, ctxp := args[0].Uint(), args[1].Pointer()
	var b [8]byte
	if n, err := t.CopyIn(ctxp, b[:]); err != nil || n != len(b) {
		return 0, abilinux.EFAULT
	}
	if binary.LittleEndian.Uint64(b[:]) != 0 || nrEvents == 0 {
		return 0, abilinux.EINVAL
	}
	c, err := t.AIOSetup(nrEvents)
	if err != nil {
		return 0, err
	}
	binary.LittleEndian.PutUint64(b[:], c.ID())
	if n, err := t.CopyOut(ctxp, b[:]); err != nil || n != len(b) {
		_ = c.Destroy(t)
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// IoDestroy implements io_destroy(2).
func IoDestroy(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	c, err := t.LookupAIOContext(args[0].Uint64())
	if err != nil {
		return 0, err
	}
	return 0, c.Destroy(t)
}

// IoSubmit implements io_submit(2): it returns how many iocbs were
// submitted, or the error of the first one if none was.
func IoSubmit(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	nr, iocbpp := args[1].Int64(), args[2].Pointer()
	if nr < 0 {
		return 0, abilinux.EINVAL
	}
	c, err := t.LookupAIOContext(args[0].Uint64())
	if err != nil {
		return 0, err
	}
	nr = min(nr, int64(c.RingSize()))
	var i int64
	for ; i < nr; i++ {
		var b [8]byte
		if n, cerr := t.CopyIn(iocbpp+uintptr(i)*8, b[:]); cerr != nil || n != len(b) {
			err = abilinux.EFAULT
			break
		}
		if err = submitIocb(t, c, uintptr(binary.LittleEndian.Uint64(b[:]))); err != nil {
			break
		}
	}
	if i > 0 {
		return uintptr(i), nil
	}
	return 0, err
}

// submitIocb submits the iocb at addr, checking it in Linux's order.
func submitIocb(t *kernel.Task, c *kernel.AIOContext, addr uintptr) error {
	var b [iocbSize]byte
	if n, err := t.CopyIn(addr, b[:]); err != nil || n != len(b) {
		return abilinux.EFAULT
	}
	cb := decodeIocb(b[:])
	if cb.reserved != 0 || int64(cb.nbytes) < 0 {
		return abilinux.EINVAL
	}
	if !c.Reserve() {
		return abilinux.EAGAIN
	}
	req, err := prepareIocb(t, addr, &cb)
	if err != nil {
		c.Unreserve()
		return err
	}
	if cb.opcode == iocbCmdPoll {
		// The poll request takes over the file reference, and the
		// eventfd's until it has signalled it.
		var notify func()
		if req.efd != nil {
			// It runs on the request's goroutine, perhaps after t has
			// exited: a context of its own, with the submitter's
			// credentials.
			ctx := auth.ContextWithCredentials(context.Background(), t.Credentials())
			notify = func() { req.signalResfd(ctx); req.efd.DecRef(ctx) }
		}
		c.SubmitPoll(t, req.f, uint64(addr), cb.data, waiter.EventMask(uint16(cb.buf)), notify)
		return nil
	}
	defer req.release(t)
	res := req.run(t)
	c.Complete(kernel.AIOEvent{Data: cb.data, Obj: uint64(addr), Res: res})
	req.signalResfd(t.Context())
	return nil
}

// aioRequest is a checked iocb, ready to run.
type aioRequest struct {
	cb *iocb
	f  *vfs.FileDescription
	// seq is the buffer of a read or write.
	seq vfs.IOSequence
	// efd is the IOCB_FLAG_RESFD eventfd (a reference), nil without
	// one; efdImpl its implementation.
	efd     *vfs.FileDescription
	efdImpl *eventfd.EventFD
	// syncErr is the outcome of an fsync request, which runs while it
	// is checked.
	syncErr error
}

// release drops the request's file references.
func (req *aioRequest) release(t *kernel.Task) {
	req.f.DecRef(t.Context())
	if req.efd != nil {
		req.efd.DecRef(t.Context())
	}
}

// signalResfd adds one to the IOCB_FLAG_RESFD eventfd, if any, after the
// request's event is in the ring. Like Linux's eventfd_signal it never
// blocks: a counter at its maximum stays there.
func (req *aioRequest) signalResfd(ctx context.Context) {
	if req.efdImpl != nil {
		_ = req.efdImpl.Signal(ctx, 1, true)
	}
}

// prepareIocb does the checks Linux makes before a request is under way;
// their errors are io_submit's. On success the request holds a
// reference on its file.
func prepareIocb(t *kernel.Task, addr uintptr, cb *iocb) (*aioRequest, error) {
	f, err := getFileNoPath(t, int32(cb.fildes))
	if err != nil {
		return nil, err
	}
	req := &aioRequest{cb: cb, f: f}
	ok := false
	defer func() {
		if !ok {
			req.release(t)
		}
	}()
	if cb.flags&iocbFlagResfd != 0 {
		ef, err := t.GetFile(int32(cb.resfd))
		if err != nil {
			return nil, err
		}
		req.efd = ef
		e, isEventfd := ef.Impl().(*eventfd.EventFD)
		if !isEventfd {
			return nil, abilinux.EINVAL
		}
		req.efdImpl = e
	}
	// KIOCB_KEY, which io_cancel looks for.
	var zero [4]byte
	if n, err := t.CopyOut(addr+iocbKeyOffset, zero[:]); err != nil || n != len(zero) {
		return nil, abilinux.EFAULT
	}
	switch cb.opcode {
	case iocbCmdPread, iocbCmdPreadv, iocbCmdPwrite, iocbCmdPwritev:
		err = req.prepareRW(t)
	case iocbCmdFsync, iocbCmdFdsync:
		if cb.buf != 0 || cb.offset != 0 || cb.nbytes != 0 || cb.rwFlags != 0 {
			err = abilinux.EINVAL
		}
	case iocbCmdPoll:
		if uint64(uint16(cb.buf)) != cb.buf || cb.offset != 0 || cb.nbytes != 0 || cb.rwFlags != 0 {
			err = abilinux.EINVAL
		}
	default:
		// Including IOCB_CMD_NOOP, which Linux never implemented.
		err = abilinux.EINVAL
	}
	if err != nil {
		return nil, err
	}
	if cb.opcode == iocbCmdFsync || cb.opcode == iocbCmdFdsync {
		// Linux refuses a file without an fsync operation at submission
		// (pipes, sockets); the sync itself runs now, synchronously, and
		// an EINVAL from it means the same.
		if serr := f.Sync(t.Context()); serr != nil {
			if errors.Is(serr, abilinux.EINVAL) {
				return nil, abilinux.EINVAL
			}
			req.syncErr = serr
		}
	}
	ok = true
	return req, nil
}

// prepareRW is aio_prep_rw and the buffer checks of aio_read/aio_write.
func (req *aioRequest) prepareRW(t *kernel.Task) error {
	cb, f := req.cb, req.f
	if cb.flags&iocbFlagIoprio != 0 {
		if err := checkAIOPriority(t, cb.reqprio); err != nil {
			return err
		}
	}
	if err := checkRWFlags(cb.rwFlags); err != nil {
		return err
	}
	write := cb.opcode == iocbCmdPwrite || cb.opcode == iocbCmdPwritev
	if write && !f.IsWritable() || !write && !f.IsReadable() {
		return abilinux.EBADF
	}
	if f.Inode().Type() == abilinux.S_IFDIR {
		// Directories have no read_iter/write_iter.
		return abilinux.EINVAL
	}
	var err error
	if cb.opcode == iocbCmdPreadv || cb.opcode == iocbCmdPwritev {
		if cb.nbytes > abilinux.UIO_MAXIOV {
			return abilinux.EINVAL
		}
		req.seq, err = IovecIOSequence(t, uintptr(cb.buf), int(cb.nbytes))
	} else {
		req.seq, err = SingleIOSequence(t, uintptr(cb.buf), cb.nbytes)
	}
	if err != nil {
		return err
	}
	// rw_verify_area.
	if cb.offset < 0 || cb.offset+req.seq.NumBytes() < cb.offset {
		return abilinux.EINVAL
	}
	return nil
}

// checkAIOPriority is Linux's ioprio_check_cap for IOCB_FLAG_IOPRIO:
// the class must be valid, none-class priorities have no level, and the
// real-time class needs CAP_SYS_NICE or CAP_SYS_ADMIN.
func checkAIOPriority(t *kernel.Task, prio int16) error {
	p := int32(prio)
	class := (p >> 13) & 7
	level := p & 7
	switch class {
	case 1: // IOPRIO_CLASS_RT
		c := t.Credentials()
		if !c.HasCapability(abilinux.CAP_SYS_NICE) && !c.HasCapability(abilinux.CAP_SYS_ADMIN) {
			return abilinux.EPERM
		}
	case 2, 3: // IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE
	case 0: // IOPRIO_CLASS_NONE
		if level != 0 {
			return abilinux.EINVAL
		}
	default:
		return abilinux.EINVAL
	}
	return nil
}

// run performs a read, write or sync request and returns its event's
// res: a byte count or a negative errno.
func (req *aioRequest) run(t *kernel.Task) int64 {
	cb, f := req.cb, req.f
	ctx := t.Context()
	switch cb.opcode {
	case iocbCmdFsync, iocbCmdFdsync:
		return aioRes(0, req.syncErr)
	case iocbCmdPread, iocbCmdPreadv:
		opts := vfs.ReadOptions{Flags: cb.rwFlags, Nonblocking: cb.rwFlags&abilinux.RWF_NOWAIT != 0}
		var n int64
		var err error
		if f.IsStream() {
			// Linux ignores aio_offset for a file without one.
			n, err = f.Read(ctx, req.seq, opts)
		} else {
			n, err = f.PRead(ctx, req.seq, cb.offset, opts)
		}
		return aioRes(n, err)
	default:
		opts := vfs.WriteOptions{
			Flags:       cb.rwFlags,
			Nonblocking: cb.rwFlags&abilinux.RWF_NOWAIT != 0,
			Append:      cb.rwFlags&abilinux.RWF_APPEND != 0,
		}
		var n int64
		var err error
		if f.IsStream() {
			n, err = f.Write(ctx, req.seq, opts)
		} else {
			n, err = f.PWrite(ctx, req.seq, cb.offset, opts)
		}
		if errors.Is(err, abilinux.EPIPE) {
			// The write operations of pipes and sockets raise SIGPIPE
			// themselves in Linux, for AIO as for write(2).
			sendSIGPIPE(t)
		}
		if err == nil && n > 0 && cb.rwFlags&(abilinux.RWF_DSYNC|abilinux.RWF_SYNC) != 0 && f.Inode().Type() == abilinux.S_IFREG {
			if serr := f.Sync(ctx); serr != nil {
				return aioRes(0, serr)
			}
		}
		return aioRes(n, err)
	}
}

// aioRes turns a transfer's outcome into an io_event res: the count if
// anything moved, else the negated errno. An interrupted request cannot
// be restarted (other requests of the same io_submit may have run), so it
// fails with EINTR, as in Linux.
func aioRes(n int64, err error) int64 {
	if n > 0 || err == nil {
		return n
	}
	return -int64(aioErrno(err))
}

func aioErrno(err error) abilinux.Errno {
	var le abilinux.Errno
	if errors.As(err, &le) {
		return le
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return abilinux.Errno(se)
	}
	switch {
	case errors.Is(err, kernel.ErrInterrupted):
		return abilinux.EINTR
	case kernel.ErrTimedOut(err):
		return abilinux.ETIMEDOUT
	}
	return abilinux.EIO
}

// IoCancel implements io_cancel(2). The result argument is unused, as in
// Linux since 5.x: the cancelled request's event goes to the ring.
func IoCancel(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	addr := args[1].Pointer()
	var b [4]byte
	if n, err := t.CopyIn(addr+iocbKeyOffset, b[:]); err != nil || n != len(b) {
		return 0, abilinux.EFAULT
	}
	if binary.LittleEndian.Uint32(b[:]) != 0 {
		return 0, abilinux.EINVAL
	}
	c, err := t.LookupAIOContext(args[0].Uint64())
	if err != nil {
		return 0, err
	}
	return 0, c.Cancel(uint64(addr))
}

// copyInAIOTimeout reads io_getevents' relative timeout. Linux checks
// nothing about it: zero polls, and a negative or huge one never expires
// (the hrtimer's expiry saturates when the sum wraps).
func copyInAIOTimeout(t *kernel.Task, addr uintptr) (*time.Duration, error) {
	if addr == 0 {
		return nil, nil
	}
	var b [16]byte
	if n, err := t.CopyIn(addr, b[:]); err != nil || n != len(b) {
		return nil, abilinux.EFAULT
	}
	sec := int64(binary.LittleEndian.Uint64(b[0:]))
	nsec := int64(binary.LittleEndian.Uint64(b[8:]))
	d := aioDuration(sec, nsec)
	if d < 0 || d == math.MaxInt64 {
		return nil, nil
	}
	return &d, nil
}

// aioDuration is timespec64_to_ktime: saturating at "forever".
func aioDuration(sec, nsec int64) time.Duration {
	const maxSec = math.MaxInt64 / int64(time.Second)
	if sec >= maxSec {
		return math.MaxInt64
	}
	if sec <= -maxSec {
		return math.MinInt64
	}
	d := sec*int64(time.Second) + nsec
	if nsec > 0 && d < sec*int64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// getEvents is do_io_getevents.
func getEvents(t *kernel.Task, args arch.SyscallArguments, timeout *time.Duration) (int64, error) {
	c, err := t.LookupAIOContext(args[0].Uint64())
	if err != nil {
		return 0, err
	}
	minNr, nr := args[1].Int64(), args[2].Int64()
	if minNr > nr || minNr < 0 {
		return 0, abilinux.EINVAL
	}
	return c.GetEvents(t, minNr, nr, args[3].Pointer(), timeout)
}

// IoGetevents implements io_getevents(2). A signal ends the wait with
// EINTR if no event was read; Linux never restarts it.
func IoGetevents(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	timeout, err := copyInAIOTimeout(t, args[4].Pointer())
	if err != nil {
		return 0, err
	}
	n, err := getEvents(t, args, timeout)
	if err == kernel.ErrInterrupted {
		if n > 0 {
			return uintptr(n), nil
		}
		return 0, abilinux.EINTR
	}
	if err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// IoPgetevents implements io_pgetevents(2): io_getevents with a signal
// mask (struct __aio_sigset) in force while it waits. Interrupted with
// nothing read, it is restarted unless a handler runs (ERESTARTNOHAND).
func IoPgetevents(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	timeout, err := copyInAIOTimeout(t, args[4].Pointer())
	if err != nil {
		return 0, err
	}
	var maskAddr uintptr
	var maskSize uint64
	if usig := args[5].Pointer(); usig != 0 {
		var b [16]byte
		if n, err := t.CopyIn(usig, b[:]); err != nil || n != len(b) {
			return 0, abilinux.EFAULT
		}
		maskAddr = uintptr(binary.LittleEndian.Uint64(b[0:]))
		maskSize = binary.LittleEndian.Uint64(b[8:])
	}
	restore, err := swapSignalMask(t, maskAddr, maskSize)
	if err != nil {
		return 0, err
	}
	n, err := getEvents(t, args, timeout)
	interrupted := err == kernel.ErrInterrupted
	restore(interrupted)
	switch {
	case interrupted && n == 0:
		return 0, abilinux.ERESTARTNOHAND
	case interrupted:
		return uintptr(n), nil
	case err != nil:
		return 0, err
	}
	return uintptr(n), nil
}
