package linux

import (
	"encoding/binary"
	"time"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Linux's select(2) translation of readiness: what makes a descriptor
// readable, writable, or "exceptional".
const (
	selectIn  = waiter.EventIn | waiter.EventRdNorm | waiter.EventRdBand | waiter.EventHUp | waiter.EventErr
	selectOut = waiter.EventOut | waiter.EventWrNorm | waiter.EventWrBand | waiter.EventErr
	selectEx  = waiter.EventPri
)

// pollTimeout is when a wait gives up. The zero value waits forever.
type pollTimeout struct {
	deadline time.Time
	finite   bool
	// zero marks a timeout of zero: poll once, never block, and (for
	// select and ppoll) leave the timeout argument untouched.
	zero bool
}

func timeoutAfter(d time.Duration) pollTimeout {
	if d <= 0 {
		return pollTimeout{finite: true, zero: true, deadline: time.Now()}
	}
	return pollTimeout{finite: true, deadline: time.Now().Add(d)}
}

// remaining is the time left, never negative.
func (to pollTimeout) remaining() time.Duration { return max(time.Until(to.deadline), 0) }

// pollWaker wakes the waiting task on any event of any file; a buffered
// channel of one keeps a wake-up that arrives before the task sleeps.
type pollWaker struct{ ch chan struct{} }

// NotifyEvent implements waiter.EventListener.
func (w *pollWaker) NotifyEvent(waiter.EventMask) {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// pollSet is the files of one poll or select call and the events asked
// of each. A nil file is skipped (poll's negative descriptors and
// POLLNVAL entries).
type pollSet struct {
	files []*vfs.FileDescription
	masks []waiter.EventMask
	// ready is each file's events from the last scan, already limited
	// to what was asked plus errors and hang-ups.
	ready []waiter.EventMask
}

func (s *pollSet) add(f *vfs.FileDescription, mask waiter.EventMask) {
	s.files = append(s.files, f)
	s.masks = append(s.masks, mask)
	s.ready = append(s.ready, 0)
}

func (s *pollSet) release(t *kernel.Task) {
	for _, f := range s.files {
		if f != nil {
			f.DecRef(t.Context())
		}
	}
}

// scan reads every file's readiness and returns how many have events.
func (s *pollSet) scan() int {
	n := 0
	for i, f := range s.files {
		if f == nil {
			continue
		}
		filter := s.masks[i] | waiter.EventErr | waiter.EventHUp
		s.ready[i] = f.Readiness(s.masks[i]) & filter
		if s.ready[i] != 0 {
			n++
		}
	}
	return n
}

// wait scans until some file is ready (extra counts already-known
// results, such as POLLNVAL entries), the timeout passes, or the task is
// interrupted (kernel.ErrInterrupted). Entries are registered before the
// scan that precedes each sleep, so no event between the two is lost.
func (s *pollSet) wait(t *kernel.Task, extra int, to pollTimeout) (int, error) {
	if n := s.scan(); n+extra > 0 || to.zero {
		return n, nil
	}
	w := &pollWaker{ch: make(chan struct{}, 1)}
	entries := make([]waiter.Entry, len(s.files))
	for i, f := range s.files {
		if f == nil {
			continue
		}
		entries[i].Init(w, s.masks[i]|waiter.EventErr|waiter.EventHUp)
		f.EventRegister(&entries[i])
	}
	defer func() {
		for i, f := range s.files {
			if f != nil {
				f.EventUnregister(&entries[i])
			}
		}
	}()
	for {
		if n := s.scan(); n > 0 {
			return n, nil
		}
		var err error
		if to.finite {
			err = t.BlockWithDeadline(w.ch, to.deadline)
		} else {
			err = t.Block(w.ch)
		}
		if kernel.ErrTimedOut(err) {
			// One last look, as Linux takes after its timer fires.
			return s.scan(), nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// pollMaxFDs bounds poll's nfds: RLIMIT_NOFILE in Linux. The kernel has
// no rlimits yet, so this is the hard ceiling, fs.nr_open.
const pollMaxFDs = abilinux.NR_OPEN

// doPoll runs poll on the nfds struct pollfd at addr and writes the
// revents back.
func doPoll(t *kernel.Task, addr uintptr, nfds uint32, to pollTimeout) (int, error) {
	if nfds > pollMaxFDs {
		return 0, abilinux.EINVAL
	}
	buf := make([]byte, int(nfds)*abilinux.SizeofPollFD)
	if _, err := t.CopyIn(addr, buf); err != nil {
		return 0, err
	}
	pfds := make([]abilinux.PollFD, nfds)
	for i := range pfds {
		pfds[i].UnmarshalBytes(buf[i*abilinux.SizeofPollFD:])
	}
	var s pollSet
	defer s.release(t)
	nval := 0
	for i := range pfds {
		pfds[i].REvents = 0
		var f *vfs.FileDescription
		if pfds[i].FD >= 0 {
			f, _ = t.FDTable().Get(pfds[i].FD)
			if f != nil && f.StatusFlags()&abilinux.O_PATH != 0 {
				f.DecRef(t.Context())
				f = nil
			}
			if f == nil {
				pfds[i].REvents = abilinux.POLLNVAL
				nval++
			}
		}
		s.add(f, waiter.EventMask(uint16(pfds[i].Events)))
	}
	n, err := s.wait(t, nval, to)
	if err == nil {
		n += nval
		for i := range pfds {
			if s.files[i] != nil {
				pfds[i].REvents = int16(s.ready[i])
			}
		}
	} else {
		for i := range pfds {
			pfds[i].REvents = 0
		}
	}
	for i := range pfds {
		pfds[i].MarshalBytes(buf[i*abilinux.SizeofPollFD:])
	}
	if _, cerr := t.CopyOut(addr, buf); cerr != nil {
		return 0, cerr
	}
	return n, err
}

// Poll implements poll(2). A negative timeout waits forever.
func Poll(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	var to pollTimeout
	if ms := args[2].Int(); ms >= 0 {
		to = timeoutAfter(time.Duration(ms) * time.Millisecond)
	}
	n, err := doPoll(t, args[0].Pointer(), args[1].Uint(), to)
	if err == kernel.ErrInterrupted {
		// Linux restarts poll through a restart block so that the
		// remaining time is kept; here a restart runs the call again.
		return 0, abilinux.ERESTART_RESTARTBLOCK
	}
	return uintptr(n), err
}

// copyInTimespecTimeout reads a timespec timeout (ppoll, pselect6); NULL
// waits forever and an invalid one is EINVAL.
func copyInTimespecTimeout(t *kernel.Task, addr uintptr) (pollTimeout, error) {
	if addr == 0 {
		return pollTimeout{}, nil
	}
	var ts abilinux.Timespec
	if err := t.MemoryManager().CopyObjectIn(addr, &ts); err != nil {
		return pollTimeout{}, err
	}
	if ts.Sec < 0 || !ts.Valid() {
		return pollTimeout{}, abilinux.EINVAL
	}
	return timeoutAfter(ts.ToDuration()), nil
}

// finishTimeout writes the time left back to the timeout argument, as
// Linux does for select, pselect6 and ppoll whatever the outcome (but not
// for a zero timeout). If that write faults, an interrupted call cannot
// be restarted with the right timeout, so it becomes EINTR.
func finishTimeout(t *kernel.Task, addr uintptr, to pollTimeout, timeval bool, err error) error {
	if addr == 0 || !to.finite || to.zero {
		return err
	}
	left := to.remaining()
	var cerr error
	if timeval {
		tv := abilinux.NsecToTimeval(int64(left))
		cerr = t.MemoryManager().CopyObjectOut(addr, &tv)
	} else {
		ts := abilinux.DurationToTimespec(left)
		cerr = t.MemoryManager().CopyObjectOut(addr, &ts)
	}
	if cerr != nil && err == abilinux.ERESTARTNOHAND {
		return abilinux.EINTR
	}
	return err
}

// swapSignalMask installs the mask at addr (of size bytes) for the
// duration of a ppoll or pselect6 and returns what to do at the end: if
// the wait was interrupted, the old mask comes back only after the
// signal's handler has been set up (so the handler runs under the
// temporary mask, as with sigsuspend); otherwise at once.
func swapSignalMask(t *kernel.Task, addr uintptr, size uint64) (func(interrupted bool), error) {
	if addr == 0 {
		return func(bool) {}, nil
	}
	if size != abilinux.SignalSetSize {
		return nil, abilinux.EINVAL
	}
	var b [abilinux.SignalSetSize]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return nil, err
	}
	old := t.SignalMask()
	t.SetSignalMask(abilinux.SignalSet(binary.LittleEndian.Uint64(b[:])))
	return func(interrupted bool) {
		if interrupted {
			t.SetSavedSignalMask(old)
		} else {
			t.SetSignalMask(old)
		}
	}, nil
}

// Ppoll implements ppoll(2).
func Ppoll(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	fdsAddr, nfds, tsAddr, maskAddr, maskSize := args[0].Pointer(), args[1].Uint(), args[2].Pointer(), args[3].Pointer(), args[4].Uint64()
	to, err := copyInTimespecTimeout(t, tsAddr)
	if err != nil {
		return 0, err
	}
	restore, err := swapSignalMask(t, maskAddr, maskSize)
	if err != nil {
		return 0, err
	}
	n, err := doPoll(t, fdsAddr, nfds, to)
	if err == kernel.ErrInterrupted {
		err = abilinux.ERESTARTNOHAND
	}
	restore(err == abilinux.ERESTARTNOHAND)
	err = finishTimeout(t, tsAddr, to, false, err)
	if err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// selectMaxFDs is the table size select(2) clamps n to. Linux uses its
// descriptor table's allocated size, which is at least 64 and covers
// every open descriptor; the bits above it are never read, so programs
// passing a large n with small fd_sets keep working.
func selectMaxFDs(t *kernel.Task) int {
	highest := int32(-1)
	t.FDTable().ForEach(func(fd int32, _ *vfs.FileDescription, _ vfs.FDFlags) {
		highest = max(highest, fd)
	})
	return max(64, (int(highest)+1+63)&^63)
}

// doSelect implements the common part of select and pselect6.
func doSelect(t *kernel.Task, n int32, inAddr, outAddr, exAddr uintptr, to pollTimeout) (int, error) {
	if n < 0 {
		return 0, abilinux.EINVAL
	}
	nfds := min(int(n), selectMaxFDs(t))
	nbytes := (nfds + 63) / 64 * 8
	var sets [3][]byte
	for i, addr := range [3]uintptr{inAddr, outAddr, exAddr} {
		sets[i] = make([]byte, nbytes)
		if addr != 0 && nbytes > 0 {
			if _, err := t.CopyIn(addr, sets[i]); err != nil {
				return 0, err
			}
		}
	}
	isSet := func(set []byte, fd int) bool { return set[fd/8]&(1<<(fd%8)) != 0 }

	var s pollSet
	defer s.release(t)
	var fds []int
	for fd := 0; fd < nfds; fd++ {
		var mask waiter.EventMask
		if isSet(sets[0], fd) {
			mask |= selectIn
		}
		if isSet(sets[1], fd) {
			mask |= selectOut
		}
		if isSet(sets[2], fd) {
			mask |= selectEx
		}
		if mask == 0 {
			continue
		}
		f, _ := t.FDTable().Get(int32(fd))
		if f == nil {
			return 0, abilinux.EBADF
		}
		if f.StatusFlags()&abilinux.O_PATH != 0 {
			f.DecRef(t.Context())
			return 0, abilinux.EBADF
		}
		s.add(f, mask)
		fds = append(fds, fd)
	}
	if _, err := s.wait(t, 0, to); err != nil {
		return 0, err
	}
	var res [3][]byte
	count := 0
	for i := range res {
		res[i] = make([]byte, nbytes)
	}
	for i, fd := range fds {
		r := s.ready[i]
		for j, class := range [3]waiter.EventMask{selectIn, selectOut, selectEx} {
			if isSet(sets[j], fd) && r&class != 0 {
				res[j][fd/8] |= 1 << (fd % 8)
				count++
			}
		}
	}
	for i, addr := range [3]uintptr{inAddr, outAddr, exAddr} {
		if addr != 0 && nbytes > 0 {
			if _, err := t.CopyOut(addr, res[i]); err != nil {
				return 0, err
			}
		}
	}
	return count, nil
}

// Select implements select(2). The timeval's microseconds may exceed a
// second, as Linux allows; the time left is written back.
func Select(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	tvAddr := args[4].Pointer()
	var to pollTimeout
	if tvAddr != 0 {
		var tv abilinux.Timeval
		if err := t.MemoryManager().CopyObjectIn(tvAddr, &tv); err != nil {
			return 0, err
		}
		if tv.Sec < 0 || tv.Usec < 0 {
			return 0, abilinux.EINVAL
		}
		to = timeoutAfter(abilinux.Timespec{Sec: tv.Sec + tv.Usec/abilinux.UsecPerSec, Nsec: tv.Usec % abilinux.UsecPerSec * abilinux.NsecPerUsec}.ToDuration())
	}
	n, err := doSelect(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Pointer(), to)
	if err == kernel.ErrInterrupted {
		err = abilinux.ERESTARTNOHAND
	}
	if err = finishTimeout(t, tvAddr, to, true, err); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// Pselect6 implements pselect6(2), whose sixth argument points to a
// {sigset pointer, sigset size} pair.
func Pselect6(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	tsAddr, sigAddr := args[4].Pointer(), args[5].Pointer()
	to, err := copyInTimespecTimeout(t, tsAddr)
	if err != nil {
		return 0, err
	}
	var maskAddr uintptr
	var maskSize uint64
	if sigAddr != 0 {
		var b [16]byte
		if _, err := t.CopyIn(sigAddr, b[:]); err != nil {
			return 0, err
		}
		maskAddr = uintptr(binary.LittleEndian.Uint64(b[0:]))
		maskSize = binary.LittleEndian.Uint64(b[8:])
	}
	restore, err := swapSignalMask(t, maskAddr, maskSize)
	if err != nil {
		return 0, err
	}
	n, err := doSelect(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Pointer(), to)
	if err == kernel.ErrInterrupted {
		err = abilinux.ERESTARTNOHAND
	}
	restore(err == abilinux.ERESTARTNOHAND)
	if err = finishTimeout(t, tsAddr, to, false, err); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}
