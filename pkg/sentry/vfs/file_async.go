package vfs

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Signal-driven I/O (fcntl(2) F_SETOWN/F_SETSIG and O_ASYNC, Linux's
// fasync): while O_ASYNC is set on a file description, each readiness
// notification of the file sends a signal to the description's owner.
//
// Rather than asking every file type to keep a list of asynchronous
// readers, as Linux's fasync operations do, the description registers a
// waiter entry on its own file's queue when O_ASYNC is turned on (by
// F_SETFL or FIOASYNC) and unregisters it when O_ASYNC is turned off or
// the description is released. Whatever the file notifies pollers of is
// thus what its owner hears of.
//
// The owner (a thread, process or process group, with the credentials of
// whoever set it) is the kernel's: the VFS keeps it as a FileOwner and
// hands it the signal to send.
//
// Lock order: FileDescription.flagsMu, then the file's waiter queue, then
// fileAsync.mu. The signal is sent from the notifier's goroutine with the
// waiter queue's lock held, so a FileOwner takes only the kernel's task
// and signal locks; file types whose queues are notified with those locks
// held (signalfd, pidfd, epoll) do not support O_ASYNC, on Linux either.

// FileOwner is the owner of an open file for signal-driven I/O.
type FileOwner interface {
	// SendFileSignal sends info to the owner if the owner still exists
	// and the credentials captured with it may signal it. It must not
	// block, and must not take any lock a file may hold while notifying
	// its waiters.
	SendFileSignal(info *linux.SignalInfo)
	// Named reports whether the owner names a thread, process or
	// process group; after F_SETOWN 0 it does not, and F_NOTIFY
	// replaces it as it would no owner at all.
	Named() bool
}

// AsyncCapable is implemented by files that decide for themselves
// whether O_ASYNC works on them (Linux: whether the file has an fasync
// operation). Files that do not implement it are judged by their type;
// see SupportsAsync.
type AsyncCapable interface {
	AsyncCapable() bool
}

// fileAsync is the signal-driven I/O state of one file description,
// allocated on the first F_SETOWN, F_SETSIG or O_ASYNC.
//
// +stateify savable
type fileAsync struct {
	fd *FileDescription

	// mu guards owner, sig, fdNum and nextFD. It is taken inside the
	// waiter queue's lock by NotifyEvent.
	mu sync.Mutex `state:"nosave"`
	// owner receives the signals; nil for none.
	owner FileOwner
	// sig is F_SETSIG's signal; 0 means SIGIO without siginfo details.
	sig linux.Signal
	// fdNum is si_fd: the descriptor through which O_ASYNC was turned on.
	fdNum int32
	// nextFD is the descriptor of an F_SETFL/FIOASYNC call in progress.
	nextFD int32

	// entry is registered on the file while registered is set. Both are
	// guarded by fd.flagsMu.
	entry      waiter.Entry
	registered bool
}

// asyncLocked returns fd's signal-driven I/O state, allocating it.
// Requires fd.flagsMu.
func (fd *FileDescription) asyncLocked() *fileAsync {
	if fd.async == nil {
		fd.async = &fileAsync{fd: fd}
	}
	return fd.async
}

// SetOwner implements F_SETOWN and F_SETOWN_EX: o (nil for none) gets the
// file's signals from now on.
func (fd *FileDescription) SetOwner(o FileOwner) {
	fd.flagsMu.Lock()
	defer fd.flagsMu.Unlock()
	a := fd.asyncLocked()
	a.mu.Lock()
	a.owner = o
	a.mu.Unlock()
}

// Owner returns what SetOwner set last, nil if nothing.
func (fd *FileDescription) Owner() FileOwner {
	fd.flagsMu.Lock()
	defer fd.flagsMu.Unlock()
	if fd.async == nil {
		return nil
	}
	fd.async.mu.Lock()
	defer fd.async.mu.Unlock()
	return fd.async.owner
}

// SetAsyncSignal implements F_SETSIG: sig (0 for SIGIO without details)
// is the signal sent; the caller validates it.
func (fd *FileDescription) SetAsyncSignal(sig linux.Signal) {
	fd.flagsMu.Lock()
	defer fd.flagsMu.Unlock()
	a := fd.asyncLocked()
	a.mu.Lock()
	a.sig = sig
	a.mu.Unlock()
}

// AsyncSignal implements F_GETSIG.
func (fd *FileDescription) AsyncSignal() linux.Signal {
	fd.flagsMu.Lock()
	defer fd.flagsMu.Unlock()
	if fd.async == nil {
		return 0
	}
	fd.async.mu.Lock()
	defer fd.async.mu.Unlock()
	return fd.async.sig
}

// SetStatusFlagsFD is SetStatusFlags called through descriptor fdNum
// (F_SETFL, FIOASYNC). Linux reports, as si_fd, the descriptor through
// which O_ASYNC was turned on.
func (fd *FileDescription) SetStatusFlagsFD(ctx context.Context, creds *auth.Credentials, flags uint32, fdNum int32) error {
	if flags&linux.O_ASYNC != 0 {
		fd.flagsMu.Lock()
		a := fd.asyncLocked()
		a.mu.Lock()
		a.nextFD = fdNum
		a.mu.Unlock()
		fd.flagsMu.Unlock()
	}
	return fd.SetStatusFlags(ctx, creds, flags)
}

// SupportsAsync reports whether O_ASYNC has an effect on fd, as Linux
// decides by the presence of an fasync operation: pipes and FIFOs,
// sockets, terminals, inotify, /dev/random and /dev/urandom have one;
// regular files, directories, eventfd, timerfd, signalfd, epoll and
// pidfds do not.
func (fd *FileDescription) SupportsAsync(ctx context.Context) bool {
	if fd.isPath() {
		return false
	}
	if c, ok := fd.impl.(AsyncCapable); ok {
		return c.AsyncCapable()
	}
	if d := fd.vd.dentry; d != nil && d.disconnected {
		switch d.name {
		case "anon_inode:[socket]", "anon_inode:[inotify]":
			return true
		}
	}
	st, err := fd.Stat(ctx, StatOptions{Mask: linux.STATX_TYPE})
	if err != nil {
		return false
	}
	switch linux.FileMode(st.Mode).FileType() {
	case linux.S_IFIFO, linux.S_IFSOCK:
		return true
	case linux.S_IFCHR:
		return asyncCharDevice(st.RdevMajor, st.RdevMinor)
	}
	return false
}

// asyncCharDevice reports whether Linux's driver for a character device
// number has an fasync operation: the terminal majors (virtual consoles
// and serial lines, /dev/tty, /dev/console, /dev/ptmx, BSD and Unix98
// ptys) and the random devices.
func asyncCharDevice(major, minor uint32) bool {
	switch {
	case major == 4 || major == 5:
		return true
	case major >= 128 && major <= 143:
		return true
	case major == 1:
		return minor == 8 || minor == 9
	}
	return false
}

// asyncFlagsChangedLocked is SetStatusFlags's hook: it registers for
// notifications when O_ASYNC goes on and unregisters when it goes off,
// and returns the flags to store (without O_ASYNC for files that do not
// support it, whose F_GETFL Linux does not show it in). Requires
// fd.flagsMu.
func (fd *FileDescription) asyncFlagsChangedLocked(ctx context.Context, old, flags uint32) uint32 {
	if (old^flags)&linux.O_ASYNC == 0 {
		return flags
	}
	if flags&linux.O_ASYNC == 0 {
		if a := fd.async; a != nil && a.registered {
			fd.impl.EventUnregister(&a.entry)
			a.registered = false
		}
		return flags
	}
	if !fd.SupportsAsync(ctx) {
		return flags &^ linux.O_ASYNC
	}
	a := fd.asyncLocked()
	a.mu.Lock()
	a.fdNum = a.nextFD
	a.mu.Unlock()
	if !a.registered {
		// Linux's fasync lists split readers from writers: a file hears
		// of input only if open for reading, of output space only if
		// open for writing.
		mask := waiter.EventPri | waiter.EventMsg
		if fd.IsReadable() {
			mask |= waiter.ReadableEvents
		}
		if fd.IsWritable() {
			mask |= waiter.WritableEvents
		}
		a.entry.Init(a, mask)
		if err := fd.impl.EventRegister(&a.entry); err != nil {
			return flags &^ linux.O_ASYNC
		}
		a.registered = true
	}
	return flags
}

// releaseAsync unregisters fd's notifications when fd is released.
func (fd *FileDescription) releaseAsync() {
	fd.flagsMu.Lock()
	defer fd.flagsMu.Unlock()
	if a := fd.async; a != nil {
		if a.registered {
			fd.impl.EventUnregister(&a.entry)
			a.registered = false
		}
		a.mu.Lock()
		a.owner = nil
		a.mu.Unlock()
	}
}

// NotifyEvent implements waiter.EventListener: it turns readiness into
// the signals Linux's kill_fasync sends, one per kind of event.
func (a *fileAsync) NotifyEvent(ready waiter.EventMask) {
	a.mu.Lock()
	owner, sig, fdNum := a.owner, a.sig, a.fdNum
	a.mu.Unlock()
	if owner == nil {
		return
	}
	for _, code := range asyncReasons(ready, a.fd) {
		owner.SendFileSignal(asyncSignalInfo(sig, code, fdNum))
	}
}

// asyncReasons maps notified events to POLL_* reasons.
func asyncReasons(ready waiter.EventMask, fd *FileDescription) []int32 {
	var codes []int32
	if ready&waiter.ReadableEvents != 0 {
		if ready&waiter.EventMsg != 0 {
			codes = append(codes, linux.POLL_MSG)
		} else {
			codes = append(codes, linux.POLL_IN)
		}
	}
	if ready&waiter.WritableEvents != 0 {
		codes = append(codes, linux.POLL_OUT)
	}
	if ready&(waiter.EventPri|waiter.EventRdBand) != 0 {
		codes = append(codes, linux.POLL_PRI)
	}
	if len(codes) > 0 || ready&(waiter.EventHUp|waiter.EventErr) == 0 {
		return codes
	}
	if fd.vd.dentry != nil && !fd.vd.dentry.disconnected && fd.Inode().Type() == linux.S_IFIFO {
		// A pipe's last reader or writer going away wakes the other
		// side as new input (readers) or output space (writers).
		if fd.IsReadable() {
			return []int32{linux.POLL_IN}
		}
		return []int32{linux.POLL_OUT}
	}
	if ready&waiter.EventHUp != 0 {
		return []int32{linux.POLL_HUP}
	}
	return []int32{linux.POLL_ERR}
}

// asyncBands are the si_band values of each POLL_* reason (Linux's
// band_table).
var asyncBands = [...]int64{
	linux.POLL_IN:  linux.POLLIN | linux.POLLRDNORM,
	linux.POLL_OUT: linux.POLLOUT | linux.POLLWRNORM | linux.POLLWRBAND,
	linux.POLL_MSG: linux.POLLIN | linux.POLLRDNORM | linux.POLLMSG,
	linux.POLL_ERR: linux.POLLERR,
	linux.POLL_PRI: linux.POLLPRI | linux.POLLRDBAND,
	linux.POLL_HUP: linux.POLLHUP | linux.POLLERR,
}

// asyncSignalInfo builds the siginfo of one notification: with F_SETSIG,
// the reason, band and descriptor; without, a bare SIGIO from the kernel.
func asyncSignalInfo(sig linux.Signal, code int32, fdNum int32) *linux.SignalInfo {
	if sig == 0 {
		return &linux.SignalInfo{Signo: int32(linux.SIGIO), Code: linux.SI_KERNEL}
	}
	info := &linux.SignalInfo{Signo: int32(sig), Code: code}
	info.SetBand(asyncBands[code])
	info.SetFD(fdNum)
	return info
}
