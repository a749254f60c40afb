// Package host implements files backed by host file descriptors that the
// Sentry was given when it started: the container's stdin, stdout and
// stderr, which may be pipes, sockets, regular files, /dev/null or a host
// terminal.
//
// NewFD wraps such a descriptor in a vfs.FileDescription. The Sentry owns
// the host descriptor from then on and closes it when the file is
// released. Reads and writes are real host system calls through a bounce
// buffer (vfs.IOSequence only offers copies, not host addresses).
//
// Blocking. The host descriptor is put in O_NONBLOCK mode, so no host call
// ever parks a Sentry thread. A read or write that gets EAGAIN on a file
// the sandbox did not open O_NONBLOCK waits for host readiness: the file
// is registered with a pkg/fdnotifier notifier, which turns host epoll
// events into waiter.Queue notifications, and the wait itself goes
// through vfs.BlockerFromContext so a signal interrupts it with
// vfs.ErrInterrupted. The original host status flags are restored on
// release of the last descriptor of that host open file, because it may be
// shared with the process that started the sandbox (a user's terminal,
// whose shell would otherwise see it non-blocking) and with the other
// standard descriptors (see hostfile.go).
//
// Offsets. Regular files are read and written with pread/pwrite at the
// offset the sandbox file description keeps; the host file offset is not
// used. Pipes, sockets and terminals are streams (ESPIPE on seek).
// Other character devices (/dev/null, /dev/zero) ignore offsets and
// seek to 0, as their Linux drivers do.
//
// Terminals. A host tty passes its termios, window size, queue sizes and
// flow control through to the host (see tty.go). Process groups and
// sessions exist only in the sandbox, so job control (TIOCSCTTY,
// TIOCNOTTY, TIOCGPGRP, TIOCSPGRP, TIOCGSID, SIGTTIN/SIGTTOU for
// background processes, SIGWINCH on TIOCSWINSZ) is the kernel's, through
// the terminal's kernel.TTYControl; the host terminal's own foreground
// group stays the runtime's. The terminal becomes the controlling
// terminal of the session of the first process the sandbox's owner
// started that uses it.
//
// Host system calls made at run time (for the Sentry's seccomp filter),
// besides those of pkg/fdnotifier (epoll_ctl, poll/ppoll, fcntl):
//   - fstat: NewFD, Stat, SEEK_END, O_APPEND writes, FIONREAD on regular
//     files.
//   - fcntl(F_GETFL, F_SETFL): NewFD and release (O_NONBLOCK, O_APPEND).
//   - getpid, kcmp(KCMP_FILE): NewFD, to find descriptors that share a
//     host open file (hostfile.go); kcmp may be denied, at the cost
//     described there.
//   - ioctl(TCGETS): NewFD on character devices, to detect terminals.
//   - read, write: streams and character devices.
//   - pread64, pwrite64: regular files.
//   - lseek(SEEK_DATA, SEEK_HOLE): regular files.
//   - ftruncate, fchmod, utimensat(fd, NULL, times, 0): SetStat on
//     regular files (fchmod and utimensat on any file).
//   - fsync: Sync.
//   - ioctl on terminals: TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,
//     TIOCSWINSZ, TIOCOUTQ, TCFLSH, TCXONC; FIONREAD (= TIOCINQ) on
//     pipes, sockets and terminals.
//   - close: release.
package host

//go:generate go run appkernel.dev/appkernel/tools/stateify
