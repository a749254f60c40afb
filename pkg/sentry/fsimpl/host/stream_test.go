package host

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

func TestPipeReadWrite(t *testing.T) {
	r, w := hostPipe(t)
	rfd, wfd := wrap(t, r, FDOptions{}), wrap(t, w, FDOptions{})
	if !rfd.IsReadable() || rfd.IsWritable() || !wfd.IsWritable() || wfd.IsReadable() {
		t.Fatal("access modes not taken from the host")
	}
	write(t, wfd, []byte("hello"))
	expect(t, read(t, rfd, 100), []byte("hello"))

	// Reads are capped at the bounce buffer: short, never lost.
	big := bytes.Repeat([]byte("abcdefgh"), maxChunk/8+10)
	done := make(chan error, 1)
	go func() {
		_, err := wfd.Write(context.Background(), vfs.BytesIOSequence(big), vfs.WriteOptions{})
		done <- err
	}()
	var got []byte
	for len(got) < len(big) {
		got = append(got, read(t, rfd, len(big))...)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expect(t, got, big)

	if _, err := rfd.Write(context.Background(), vfs.BytesIOSequence([]byte("x")), vfs.WriteOptions{}); err != linux.EBADF {
		t.Fatalf("write to read end: %v, want EBADF", err)
	}
}

func TestHostFDIsNonblockingAndRestored(t *testing.T) {
	r, w := hostPipe(t)
	defer unix.Close(w)
	dup, err := unix.Dup(r)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	fd, err := NewFD(context.Background(), vfs.New(), r, FDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fd.IsNonblocking() {
		t.Error("sandbox file is non-blocking although the host's was not")
	}
	fl, _ := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0)
	if fl&unix.O_NONBLOCK == 0 {
		t.Error("host open file not made O_NONBLOCK")
	}
	fd.DecRef(context.Background())
	fl, _ = unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0)
	if fl&unix.O_NONBLOCK != 0 {
		t.Error("host O_NONBLOCK not restored at release")
	}
	if isOpen(r) {
		t.Error("host fd still open after release")
	}
}

func TestBlockingReadWakesOnData(t *testing.T) {
	r, w := hostPipe(t)
	defer unix.Close(w)
	rfd := wrap(t, r, FDOptions{})
	b := newInterruptBlocker()
	ctx := vfs.ContextWithBlocker(context.Background(), b)
	go func() {
		<-b.blocked // the reader is asleep; now give it data
		unix.Write(w, []byte("late"))
	}()
	buf := make([]byte, 10)
	n, err := rfd.Read(ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, buf[:n], []byte("late"))
}

func TestBlockingReadInterrupted(t *testing.T) {
	r, w := hostPipe(t)
	defer unix.Close(w)
	rfd := wrap(t, r, FDOptions{})
	b := newInterruptBlocker()
	ctx := vfs.ContextWithBlocker(context.Background(), b)
	go func() {
		<-b.blocked
		close(b.intr)
	}()
	_, err := rfd.Read(ctx, vfs.BytesIOSequence(make([]byte, 10)), vfs.ReadOptions{})
	if !errors.Is(err, vfs.ErrInterrupted) {
		t.Fatalf("Read = %v, want ErrInterrupted", err)
	}
	// Nothing was consumed by the interrupted read.
	unix.Write(w, []byte("after"))
	expect(t, read(t, rfd, 10), []byte("after"))
}

func TestBlockingWriteInterruptedAfterPartial(t *testing.T) {
	r, w := hostPipe(t)
	defer unix.Close(r)
	wfd := wrap(t, w, FDOptions{})
	b := newInterruptBlocker()
	ctx := vfs.ContextWithBlocker(context.Background(), b)
	go func() {
		<-b.blocked
		close(b.intr)
	}()
	big := make([]byte, 1<<20) // more than a host pipe holds
	n, err := wfd.Write(ctx, vfs.BytesIOSequence(big), vfs.WriteOptions{})
	if err != nil || n <= 0 || n >= int64(len(big)) {
		t.Fatalf("Write = %d, %v; want a partial count and no error", n, err)
	}
}

func TestNonblockingEAGAIN(t *testing.T) {
	r, w := hostPipe(t)
	rfd := wrap(t, r, flags(linux.O_RDONLY, linux.O_NONBLOCK))
	wfd := wrap(t, w, flags(linux.O_WRONLY, linux.O_NONBLOCK))
	if _, err := rfd.Read(context.Background(), vfs.BytesIOSequence(make([]byte, 4)), vfs.ReadOptions{}); err != linux.EAGAIN {
		t.Fatalf("read of empty pipe = %v, want EAGAIN", err)
	}
	// Fill it: writes become partial, then EAGAIN.
	chunk := make([]byte, 100000)
	var total int64
	for {
		n, err := wfd.Write(context.Background(), vfs.BytesIOSequence(chunk), vfs.WriteOptions{})
		total += n
		if err == linux.EAGAIN {
			if n != 0 {
				t.Fatalf("EAGAIN with count %d", n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == int64(len(chunk)) && total > 1<<24 {
			t.Fatal("pipe never filled")
		}
	}
	if total == 0 {
		t.Fatal("nothing written before EAGAIN")
	}
	// Clearing O_NONBLOCK on the sandbox file makes the same file
	// blocking; the host fd stays non-blocking.
	if err := rfd.SetStatusFlags(context.Background(), nil, linux.O_RDONLY); err != nil {
		t.Fatal(err)
	}
	if got := len(read(t, rfd, 10)); got != 10 {
		t.Fatalf("read %d", got)
	}
}

func TestEOF(t *testing.T) {
	r, w := hostPipe(t)
	rfd := wrap(t, r, FDOptions{})
	unix.Write(w, []byte("tail"))
	unix.Close(w)
	expect(t, read(t, rfd, 10), []byte("tail"))
	if got := read(t, rfd, 10); len(got) != 0 {
		t.Fatalf("read after EOF = %q", got)
	}
	// Blocking or not, end of file does not wait.
	if err := rfd.SetStatusFlags(context.Background(), nil, linux.O_RDONLY|linux.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	if got := read(t, rfd, 10); len(got) != 0 {
		t.Fatalf("non-blocking read after EOF = %q", got)
	}
}

func TestEPIPE(t *testing.T) {
	r, w := hostPipe(t)
	wfd := wrap(t, w, FDOptions{})
	unix.Close(r)
	n, err := wfd.Write(context.Background(), vfs.BytesIOSequence([]byte("x")), vfs.WriteOptions{})
	if err != linux.EPIPE || n != 0 {
		t.Fatalf("Write = %d, %v; want 0, EPIPE", n, err)
	}
	if got := wfd.Readiness(waiter.WritableEvents); got&waiter.EventErr == 0 {
		t.Fatalf("readiness = %#x, want EventErr", got)
	}
}

func TestSocketpair(t *testing.T) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd := wrap(t, sp[0], FDOptions{})
	if !fd.IsReadable() || !fd.IsWritable() {
		t.Fatal("socket not O_RDWR")
	}
	write(t, fd, []byte("ping"))
	buf := make([]byte, 10)
	n, _ := unix.Read(sp[1], buf)
	expect(t, buf[:n], []byte("ping"))

	unix.Write(sp[1], []byte("pong!"))
	mem := newUserMem()
	if _, err := fd.Ioctl(context.Background(), mem, linux.FIONREAD, memBase); err != nil {
		t.Fatal(err)
	}
	if got := mem.int32At(memBase); got != 5 {
		t.Fatalf("FIONREAD = %d, want 5", got)
	}
	expect(t, read(t, fd, 10), []byte("pong!"))
	if _, err := fd.Ioctl(context.Background(), mem, linux.TCGETS, memBase); err != linux.ENOTTY {
		t.Fatalf("TCGETS on a socket = %v, want ENOTTY", err)
	}
	if _, err := fd.Seek(context.Background(), 0, linux.SEEK_SET); err != linux.ESPIPE {
		t.Fatalf("Seek on a socket = %v, want ESPIPE", err)
	}

	unix.Close(sp[1])
	if got := read(t, fd, 10); len(got) != 0 {
		t.Fatalf("read after peer close = %q", got)
	}
	// The host raises SIGPIPE at the Sentry too; the Go runtime drops
	// it, and the sandbox gets EPIPE to turn into its own SIGPIPE.
	if _, err := fd.Write(context.Background(), vfs.BytesIOSequence([]byte("x")), vfs.WriteOptions{}); err != linux.EPIPE {
		t.Fatalf("write after peer close = %v, want EPIPE", err)
	}
}

func TestReadinessEvents(t *testing.T) {
	r, w := hostPipe(t)
	rfd := wrap(t, r, FDOptions{})
	wfd := wrap(t, w, flags(linux.O_WRONLY, linux.O_NONBLOCK))
	if got := rfd.Readiness(waiter.ReadableEvents); got != 0 {
		t.Fatalf("empty pipe readable = %#x", got)
	}
	if got := wfd.Readiness(waiter.WritableEvents); got&waiter.EventOut == 0 {
		t.Fatalf("empty pipe writable = %#x", got)
	}

	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	if err := rfd.EventRegister(e); err != nil {
		t.Fatal(err)
	}
	write(t, wfd, []byte("x"))
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no readable notification")
	}
	rfd.EventUnregister(e)
	if got := rfd.Readiness(waiter.ReadableEvents); got&waiter.EventIn == 0 {
		t.Fatalf("readiness after write = %#x", got)
	}

	// Writable after a full pipe is drained.
	for {
		if _, err := wfd.Write(context.Background(), vfs.BytesIOSequence(make([]byte, 4096)), vfs.WriteOptions{}); err == linux.EAGAIN {
			break
		}
	}
	if got := wfd.Readiness(waiter.WritableEvents); got != 0 {
		t.Fatalf("full pipe writable = %#x", got)
	}
	ew, chw := waiter.NewChannelEntry(waiter.WritableEvents)
	wfd.EventRegister(ew)
	defer wfd.EventUnregister(ew)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, err := rfd.Read(context.Background(), vfs.BytesIOSequence(buf), vfs.ReadOptions{})
			if err != nil || n < int64(len(buf)) {
				return
			}
		}
	}()
	select {
	case <-chw:
	case <-time.After(10 * time.Second):
		t.Fatal("no writable notification")
	}
}

func TestDevNull(t *testing.T) {
	hfd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("/dev/null: %v", err)
	}
	fd := wrap(t, hfd, FDOptions{})
	if IsTTY(fd) {
		t.Fatal("/dev/null is a tty")
	}
	if got := read(t, fd, 10); len(got) != 0 {
		t.Fatalf("read /dev/null = %q", got)
	}
	write(t, fd, []byte("discarded"))
	if off, err := fd.Seek(context.Background(), 100, linux.SEEK_SET); err != nil || off != 0 {
		t.Fatalf("Seek = %d, %v; want 0 like Linux's null device", off, err)
	}
	if _, err := fd.PRead(context.Background(), vfs.BytesIOSequence(make([]byte, 1)), 5, vfs.ReadOptions{}); err != nil {
		t.Fatalf("pread /dev/null: %v", err)
	}
	if _, err := fd.Ioctl(context.Background(), newUserMem(), linux.TCGETS, memBase); err != linux.ENOTTY {
		t.Fatalf("TCGETS = %v, want ENOTTY", err)
	}
	if got := fd.Readiness(waiter.ReadableEvents | waiter.WritableEvents); got&(waiter.EventIn|waiter.EventOut) != waiter.EventIn|waiter.EventOut {
		t.Fatalf("readiness = %#x", got)
	}
	e, _ := waiter.NewChannelEntry(waiter.ReadableEvents)
	if err := fd.EventRegister(e); err != nil {
		t.Fatalf("EventRegister: %v", err)
	}
	fd.EventUnregister(e)
}

// A terminal's stdin, stdout and stderr share one host open file: the
// second descriptor must not inherit the O_NONBLOCK set for the first,
// and releasing one must not make the host file blocking under the
// other.
func TestSharedHostOpenFile(t *testing.T) {
	r, w := hostPipe(t)
	defer unix.Close(w)
	r2, err := unix.Dup(r)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := unix.Dup(r)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(probe)
	if !sameOpenFile(int32(r), int32(r2)) {
		t.Skip("kcmp(KCMP_FILE) is unavailable on this host")
	}
	hostNonblocking := func() bool {
		fl, _ := unix.FcntlInt(uintptr(probe), unix.F_GETFL, 0)
		return fl&unix.O_NONBLOCK != 0
	}
	ctx := context.Background()
	v := vfs.New()
	a, err := NewFD(ctx, v, r, FDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewFD(ctx, v, r2, FDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.IsNonblocking() || b.IsNonblocking() {
		t.Fatal("a sandbox file inherited the Sentry's host O_NONBLOCK")
	}
	a.DecRef(ctx)
	if !hostNonblocking() {
		t.Fatal("releasing one descriptor made the shared host file blocking")
	}
	// b still never blocks a thread: an empty read waits interruptibly.
	bl := newInterruptBlocker()
	go func() {
		<-bl.blocked
		close(bl.intr)
	}()
	if _, err := b.Read(vfs.ContextWithBlocker(ctx, bl), vfs.BytesIOSequence(make([]byte, 1)), vfs.ReadOptions{}); !errors.Is(err, vfs.ErrInterrupted) {
		t.Fatalf("Read = %v, want ErrInterrupted", err)
	}
	b.DecRef(ctx)
	if hostNonblocking() {
		t.Fatal("host flags not restored after the last release")
	}
}
