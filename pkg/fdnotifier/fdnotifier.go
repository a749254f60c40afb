// Package fdnotifier turns readiness of host file descriptors into
// waiter.Queue notifications, so that Sentry code waiting on a host fd
// (a pipe, socket or terminal the sandbox was given) sleeps on a waiter
// entry like any other wait, interruptible by signals, instead of in a
// blocking host system call.
//
// One Notifier is one host epoll instance plus one goroutine that waits on
// it. File descriptors are registered edge-triggered for every event, so
// the goroutine is woken once per change of state and never spins on a
// level that nobody is consuming. Edge triggering is safe for waiters
// because they follow the waiter package's protocol: register the entry,
// retry the operation (or re-check Readiness), and only then block; any
// change after registration produces a new edge and a notification.
//
// Files that epoll refuses (regular files, /dev/null: EPERM) are never
// "not ready"; AddFD reports them with ErrNotPollable so callers can treat
// them as always ready.
//
// Host system calls made at run time (for the Sentry's seccomp filter):
//   - epoll_create1(EPOLL_CLOEXEC), eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK):
//     once per Notifier.
//   - epoll_ctl(EPOLL_CTL_ADD, EPOLL_CTL_DEL): AddFD and RemoveFD.
//   - epoll_wait (amd64) / epoll_pwait (arm64): the notifier goroutine.
//   - read on the eventfd (notifier goroutine), write on it (Close).
//   - close: Close.
//   - poll (amd64) / ppoll (arm64) with a zero timeout: Readiness.
//   - fcntl(F_GETFL, F_SETFL): SetNonblocking.
package fdnotifier

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/waiter"
)

// ErrNotPollable is returned by AddFD for a file that the host cannot
// report readiness for, because it is always ready (regular files and
// most character devices).
var ErrNotPollable = errors.New("fdnotifier: file does not support readiness notification")

// Notifier watches host file descriptors and notifies their queues.
type Notifier struct {
	epfd int
	// wakefd is an eventfd registered in epfd; a write to it makes the
	// goroutine look at closed.
	wakefd int

	// mu guards fds and closed.
	mu     sync.Mutex
	fds    map[int32]*waiter.Queue
	closed bool

	// done is closed when the goroutine has exited and the host fds are
	// released.
	done chan struct{}
}

// New creates a notifier and starts its goroutine.
func New() (*Notifier, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, hostErr(err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, hostErr(err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(wakefd)
		unix.Close(epfd)
		return nil, hostErr(err)
	}
	n := &Notifier{epfd: epfd, wakefd: wakefd, fds: make(map[int32]*waiter.Queue), done: make(chan struct{})}
	go n.run()
	return n, nil
}

// AddFD starts delivering fd's readiness events to q. fd must stay open
// until RemoveFD. It fails with ErrNotPollable for files that are always
// ready, and EEXIST if fd is already registered.
func (n *Notifier) AddFD(fd int32, q *waiter.Queue) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return linux.EBADF
	}
	if _, ok := n.fds[fd]; ok {
		return linux.EEXIST
	}
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     fd,
	}
	if err := unix.EpollCtl(n.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		if err == unix.EPERM {
			return ErrNotPollable
		}
		return hostErr(err)
	}
	n.fds[fd] = q
	return nil
}

// RemoveFD stops watching fd. Call it before closing fd: epoll keys its
// registrations by open file, so a closed-then-reused number would
// otherwise inherit stale events.
func (n *Notifier) RemoveFD(fd int32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.fds[fd]; !ok {
		return
	}
	delete(n.fds, fd)
	// ENOENT or EBADF here only mean the registration is already gone.
	_ = unix.EpollCtl(n.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
}

// Close stops the goroutine and releases the host epoll instance. Files
// still registered are simply no longer watched.
func (n *Notifier) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		<-n.done
		return
	}
	n.closed = true
	n.mu.Unlock()
	var one [8]byte
	one[0] = 1 // host-endian 1 for the eventfd counter; amd64 and arm64 are little-endian
	for {
		if _, err := unix.Write(n.wakefd, one[:]); err != unix.EINTR {
			break
		}
	}
	<-n.done
}

// run waits on the epoll instance and notifies the queues of ready fds.
func (n *Notifier) run() {
	defer func() {
		unix.Close(n.wakefd)
		unix.Close(n.epfd)
		close(n.done)
	}()
	events := make([]unix.EpollEvent, 128)
	for {
		cnt, err := unix.EpollWait(n.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			// Only a broken epoll fd fails here; nothing can be
			// watched any more.
			panic("fdnotifier: epoll_wait: " + err.Error())
		}
		for i := range events[:cnt] {
			fd := events[i].Fd
			if int(fd) == n.wakefd {
				n.mu.Lock()
				closed := n.closed
				n.mu.Unlock()
				if closed {
					return
				}
				continue
			}
			n.mu.Lock()
			q := n.fds[fd]
			n.mu.Unlock()
			// Notify outside mu: listeners may take their own locks,
			// and a RemoveFD racing with this only costs a spurious
			// wake-up, which waiters tolerate.
			if q != nil {
				q.Notify(waiter.EventMask(events[i].Events) & waiter.AllEvents)
			}
		}
	}
}

// Readiness returns which of mask's events (plus errors and hang-ups,
// which are always reported) are ready on fd now, by polling it without
// waiting.
func Readiness(fd int32, mask waiter.EventMask) waiter.EventMask {
	pfd := []unix.PollFd{{Fd: fd, Events: int16(mask & waiter.AllEvents)}}
	for {
		_, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return waiter.EventErr
		}
		break
	}
	return waiter.EventMask(uint16(pfd[0].Revents)) & (mask | waiter.EventErr | waiter.EventHUp)
}

// SetNonblocking sets or clears O_NONBLOCK on the host open file behind
// fd and returns the previous status flags, so a caller can restore them.
func SetNonblocking(fd int32, nonblocking bool) (old int, err error) {
	old, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return 0, hostErr(err)
	}
	flags := old &^ unix.O_NONBLOCK
	if nonblocking {
		flags |= unix.O_NONBLOCK
	}
	if flags != old {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags); err != nil {
			return old, hostErr(err)
		}
	}
	return old, nil
}

var (
	defaultOnce     sync.Once
	defaultNotifier *Notifier
	defaultErr      error
)

// Default returns the process-wide notifier, creating it on first use.
func Default() (*Notifier, error) {
	defaultOnce.Do(func() { defaultNotifier, defaultErr = New() })
	return defaultNotifier, defaultErr
}

// hostErr converts a host errno into the Linux errno the Sentry reports;
// the numbers are the same on every Linux host.
func hostErr(err error) error {
	if e, ok := err.(unix.Errno); ok {
		return linux.Errno(e)
	}
	return err
}
