package host

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// openPTY returns a pty master and its slave, or skips the test.
func openPTY(t *testing.T) (master, slave int) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("pty tests need /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { unix.Close(m) })
	unlock := int32(0)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(m), linux.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("TIOCSPTLCK: %v", e)
	}
	// TIOCGPTPEER needs no devpts path; fall back to /dev/pts/N.
	s, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(m), linux.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if e != 0 {
		n, err := unix.IoctlGetUint32(m, linux.TIOCGPTN)
		if err != nil {
			t.Fatalf("TIOCGPTN: %v", err)
		}
		fd, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Skipf("cannot open pty slave: %v", err)
		}
		return m, fd
	}
	return m, int(s)
}

func hostTermios(t *testing.T, fd int) [linux.SizeofTermios]byte {
	t.Helper()
	var b [linux.SizeofTermios]byte
	if err := ioctlPtr(fd, linux.TCGETS, &b[0]); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitReadable waits until fd reports input: pty data reaches the line
// discipline asynchronously.
func waitReadable(t *testing.T, fd *vfs.FileDescription) {
	t.Helper()
	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	fd.EventRegister(e)
	defer fd.EventUnregister(e)
	if fd.Readiness(waiter.ReadableEvents) != 0 {
		return
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("tty never became readable")
	}
}

func TestTTYTermiosRoundTrip(t *testing.T) {
	ctx := context.Background()
	m, s := openPTY(t)
	fd := wrap(t, s, FDOptions{})
	if !IsTTY(fd) || !fd.IsStream() {
		t.Fatal("pty slave not recognised as a terminal stream")
	}
	if _, err := fd.Seek(ctx, 0, linux.SEEK_SET); err != linux.ESPIPE {
		t.Fatalf("Seek on tty = %v, want ESPIPE", err)
	}
	mem := newUserMem()
	if _, err := fd.Ioctl(ctx, mem, linux.TCGETS, memBase); err != nil {
		t.Fatal(err)
	}
	var tio linux.Termios
	tio.UnmarshalBytes(mem.b)
	want := hostTermios(t, m)
	if string(mem.b[:linux.SizeofTermios]) != string(want[:]) {
		t.Fatalf("TCGETS = %+v, differs from the host's", tio)
	}
	if tio.LocalFlags&linux.ECHO == 0 || tio.LocalFlags&linux.ICANON == 0 {
		t.Fatalf("fresh pty without ECHO|ICANON: %#x", tio.LocalFlags)
	}

	for _, cmd := range []uint32{linux.TCSETS, linux.TCSETSW, linux.TCSETSF} {
		tio.LocalFlags ^= linux.ECHO
		tio.ControlCharacters[linux.VMIN] = 3
		tio.MarshalBytes(mem.b)
		if _, err := fd.Ioctl(ctx, mem, cmd, memBase); err != nil {
			t.Fatalf("ioctl %#x: %v", cmd, err)
		}
		// The host terminal (seen through the master) has the change.
		var host linux.Termios
		b := hostTermios(t, m)
		host.UnmarshalBytes(b[:])
		if host.LocalFlags != tio.LocalFlags || host.ControlCharacters[linux.VMIN] != 3 {
			t.Fatalf("after %#x host lflag %#x, want %#x", cmd, host.LocalFlags, tio.LocalFlags)
		}
	}
	if _, err := fd.Ioctl(ctx, mem, linux.TCGETS, 1); err != linux.EFAULT {
		t.Fatalf("TCGETS to a bad address = %v, want EFAULT", err)
	}
}

func TestTTYWindowSize(t *testing.T) {
	ctx := context.Background()
	m, s := openPTY(t)
	fd := wrap(t, s, FDOptions{})
	mem := newUserMem()
	ws := linux.Winsize{Row: 33, Col: 101, Xpixel: 7, Ypixel: 9}
	ws.MarshalBytes(mem.b)
	if _, err := fd.Ioctl(ctx, mem, linux.TIOCSWINSZ, memBase); err != nil {
		t.Fatal(err)
	}
	hw, err := unix.IoctlGetWinsize(m, unix.TIOCGWINSZ)
	if err != nil {
		t.Fatal(err)
	}
	if hw.Row != 33 || hw.Col != 101 || hw.Xpixel != 7 || hw.Ypixel != 9 {
		t.Fatalf("host winsize %+v", hw)
	}
	// A resize made on the host side is what the sandbox reads.
	unix.IoctlSetWinsize(m, unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 132})
	clear(mem.b)
	if _, err := fd.Ioctl(ctx, mem, linux.TIOCGWINSZ, memBase); err != nil {
		t.Fatal(err)
	}
	var got linux.Winsize
	got.UnmarshalBytes(mem.b)
	if got.Row != 50 || got.Col != 132 {
		t.Fatalf("TIOCGWINSZ = %+v", got)
	}
}

func TestTTYDataAndQueues(t *testing.T) {
	ctx := context.Background()
	m, s := openPTY(t)
	fd := wrap(t, s, FDOptions{})
	mem := newUserMem()

	// Output goes to the master, with the tty's output processing
	// (ONLCR) applied by the host.
	write(t, fd, []byte("out\n"))
	buf := make([]byte, 16)
	n, err := unix.Read(m, buf)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, buf[:n], []byte("out\r\n"))

	// Input typed on the master: FIONREAD/TIOCINQ counts it once the
	// line is complete.
	unix.Write(m, []byte("abc\n"))
	waitReadable(t, fd)
	if _, err := fd.Ioctl(ctx, mem, linux.TIOCINQ, memBase); err != nil || mem.int32At(memBase) != 4 {
		t.Fatalf("TIOCINQ = %d, %v; want 4", mem.int32At(memBase), err)
	}
	if _, err := fd.Ioctl(ctx, mem, linux.TIOCOUTQ, memBase); err != nil || mem.int32At(memBase) < 0 {
		t.Fatalf("TIOCOUTQ = %d, %v", mem.int32At(memBase), err)
	}
	expect(t, read(t, fd, 16), []byte("abc\n"))
	// The master echoed it back; drain that.
	unix.SetNonblock(m, true)
	for {
		if _, err := unix.Read(m, buf); err != nil {
			break
		}
	}

	// TCFLSH discards pending input.
	unix.Write(m, []byte("junk\n"))
	waitReadable(t, fd)
	if _, err := fd.Ioctl(ctx, mem, linux.TCFLSH, linux.TCIFLUSH); err != nil {
		t.Fatal(err)
	}
	fd.Ioctl(ctx, mem, linux.FIONREAD, memBase)
	if got := mem.int32At(memBase); got != 0 {
		t.Fatalf("FIONREAD after TCIFLUSH = %d", got)
	}
	if _, err := fd.Ioctl(ctx, mem, linux.TCFLSH, 7); err != linux.EINVAL {
		t.Fatalf("TCFLSH(7) = %v, want EINVAL", err)
	}
	if _, err := fd.Ioctl(ctx, mem, linux.TCXONC, linux.TCOON); err != nil {
		t.Fatalf("TCXONC(TCOON) = %v", err)
	}
	if _, err := fd.Ioctl(ctx, mem, linux.TCXONC, 9); err != linux.EINVAL {
		t.Fatalf("TCXONC(9) = %v, want EINVAL", err)
	}
	if _, err := fd.Ioctl(ctx, mem, linux.TIOCSTI, memBase); err != linux.ENOTTY {
		t.Fatalf("unsupported tty ioctl = %v, want ENOTTY", err)
	}
}

func TestTTYBlockingReadWakesAndInterrupts(t *testing.T) {
	m, s := openPTY(t)
	fd := wrap(t, s, FDOptions{})
	b := newInterruptBlocker()
	ctx := vfs.ContextWithBlocker(context.Background(), b)
	go func() {
		<-b.blocked
		unix.Write(m, []byte("typed\n"))
	}()
	buf := make([]byte, 32)
	n, err := fd.Read(ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, buf[:n], []byte("typed\n"))

	go func() {
		<-b.blocked
		close(b.intr)
	}()
	if _, err := fd.Read(ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{}); !errors.Is(err, vfs.ErrInterrupted) {
		t.Fatalf("Read = %v, want ErrInterrupted", err)
	}
	if _, err := fd.Read(context.Background(), vfs.BytesIOSequence(buf), vfs.ReadOptions{Nonblocking: true}); err != linux.EAGAIN {
		t.Fatalf("non-blocking read = %v, want EAGAIN", err)
	}
}

// Job control is the kernel's: without a task (no session) the terminal
// is nobody's controlling terminal, and the host is never asked.
func TestTTYJobControlWithoutTask(t *testing.T) {
	_, s := openPTY(t)
	fd := wrap(t, s, FDOptions{})
	mem := newUserMem()
	ctx := context.Background()
	for _, cmd := range []uint32{linux.TIOCGPGRP, linux.TIOCSPGRP, linux.TIOCGSID, linux.TIOCNOTTY} {
		mem.putInt32(memBase, 1)
		if _, err := fd.Ioctl(ctx, mem, cmd, memBase); err != linux.ENOTTY {
			t.Errorf("ioctl %#x = %v, want ENOTTY", cmd, err)
		}
	}
	if _, err := fd.Ioctl(ctx, mem, linux.TIOCSCTTY, 0); err != linux.EPERM {
		t.Errorf("TIOCSCTTY = %v, want EPERM", err)
	}
	if TTY(fd) == nil {
		t.Fatal("TTY(terminal) = nil")
	}
}

func TestNotTTY(t *testing.T) {
	mem := newUserMem()
	ctx := context.Background()
	// Not a terminal: no foreground group, tty ioctls fail.
	r, w := hostPipe(t)
	defer unix.Close(w)
	pfd := wrap(t, r, FDOptions{})
	if TTY(pfd) != nil {
		t.Fatal("TTY(pipe) != nil")
	}
	for _, cmd := range []uint32{linux.TCGETS, linux.TCSETS, linux.TIOCGWINSZ, linux.TIOCSWINSZ, linux.TIOCGPGRP, linux.TIOCSPGRP, linux.TIOCSCTTY, linux.TIOCOUTQ, linux.TCFLSH, linux.TCXONC} {
		if _, err := pfd.Ioctl(ctx, mem, cmd, memBase); err != linux.ENOTTY {
			t.Errorf("pipe ioctl %#x = %v, want ENOTTY", cmd, err)
		}
	}
	unix.Write(w, []byte("12"))
	if _, err := pfd.Ioctl(ctx, mem, linux.FIONREAD, memBase); err != nil || mem.int32At(memBase) != 2 {
		t.Fatalf("pipe FIONREAD = %d, %v", mem.int32At(memBase), err)
	}
}

func TestTTYStat(t *testing.T) {
	_, s := openPTY(t)
	var hst unix.Stat_t
	unix.Fstat(s, &hst)
	fd := wrap(t, s, FDOptions{})
	st, err := fd.Stat(context.Background(), vfs.StatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if linux.FileMode(st.Mode).FileType() != linux.S_IFCHR || st.RdevMajor != unix.Major(hst.Rdev) || st.RdevMinor != unix.Minor(hst.Rdev) {
		t.Fatalf("tty stat %+v", st)
	}
}

// Terminal state belongs to the terminal: stdin and stdout of one pty
// share their job-control state and cached settings.
func TestTTYStateSharedBetweenDescriptors(t *testing.T) {
	_, s := openPTY(t)
	s2, err := unix.Dup(s)
	if err != nil {
		t.Fatal(err)
	}
	v := vfs.New()
	in := wrapIn(t, v, s, FDOptions{})
	out := wrapIn(t, v, s2, FDOptions{})
	if TTY(in) == nil || TTY(in) != TTY(out) {
		t.Fatalf("descriptors of one terminal have states %p and %p", TTY(in), TTY(out))
	}
	if maj, min := TTY(in).TTYDevice(); maj == 0 && min == 0 {
		t.Fatal("no device number")
	}
}
