package host

import (
	"bytes"
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// wrap makes a host file of hostFD in a fresh VFS, released at the end
// of the test.
func wrap(t *testing.T, hostFD int, opts FDOptions) *vfs.FileDescription {
	t.Helper()
	return wrapIn(t, vfs.New(), hostFD, opts)
}

func wrapIn(t *testing.T, vfsObj *vfs.VirtualFilesystem, hostFD int, opts FDOptions) *vfs.FileDescription {
	t.Helper()
	fd, err := NewFD(context.Background(), vfsObj, hostFD, opts)
	if err != nil {
		t.Fatalf("NewFD(%d): %v", hostFD, err)
	}
	t.Cleanup(func() {
		if fd.ReadRefs() > 0 {
			fd.DecRef(context.Background())
		}
	})
	return fd
}

// hostPipe returns a blocking host pipe; the caller closes what it does
// not hand to NewFD.
func hostPipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	return p[0], p[1]
}

func flags(accmode uint32, extra uint32) FDOptions {
	return FDOptions{HaveFlags: true, Flags: accmode | extra}
}

func read(t *testing.T, fd *vfs.FileDescription, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got, err := fd.Read(context.Background(), vfs.BytesIOSequence(buf), vfs.ReadOptions{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return buf[:got]
}

func write(t *testing.T, fd *vfs.FileDescription, data []byte) {
	t.Helper()
	n, err := fd.Write(context.Background(), vfs.BytesIOSequence(data), vfs.WriteOptions{})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Write = %d, %v; want %d", n, err, len(data))
	}
}

func expect(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// interruptBlocker is a vfs.Blocker whose waits end with ErrInterrupted
// once intr is closed, as a task's do when a signal arrives.
type interruptBlocker struct {
	intr    chan struct{}
	blocked chan struct{} // receives a token each time a wait starts
}

func newInterruptBlocker() *interruptBlocker {
	return &interruptBlocker{intr: make(chan struct{}), blocked: make(chan struct{}, 16)}
}

func (b *interruptBlocker) Block(ch <-chan struct{}) error {
	return b.BlockWithDeadline(ch, time.Time{})
}

func (b *interruptBlocker) BlockWithDeadline(ch <-chan struct{}, deadline time.Time) error {
	select {
	case b.blocked <- struct{}{}:
	default:
	}
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		timeout = tm.C
	}
	select {
	case <-ch:
		return nil
	case <-b.intr:
		return vfs.ErrInterrupted
	case <-timeout:
		return vfs.ErrTimedOut
	}
}

// userMem is application memory for ioctl arguments: address a is
// b[a-base].
type userMem struct{ b []byte }

const memBase = 0x10000

func newUserMem() *userMem { return &userMem{b: make([]byte, 256)} }

func (m *userMem) slice(addr uint64, n int) ([]byte, error) {
	if addr < memBase || addr-memBase+uint64(n) > uint64(len(m.b)) {
		return nil, linux.EFAULT
	}
	return m.b[addr-memBase : addr-memBase+uint64(n)], nil
}

func (m *userMem) CopyOutBytes(_ context.Context, addr uint64, src []byte) (int, error) {
	s, err := m.slice(addr, len(src))
	if err != nil {
		return 0, err
	}
	return copy(s, src), nil
}

func (m *userMem) CopyInBytes(_ context.Context, addr uint64, dst []byte) (int, error) {
	s, err := m.slice(addr, len(dst))
	if err != nil {
		return 0, err
	}
	return copy(dst, s), nil
}

func (m *userMem) int32At(addr uint64) int32 {
	s, _ := m.slice(addr, 4)
	return int32(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
}

func (m *userMem) putInt32(addr uint64, v int32) {
	s, _ := m.slice(addr, 4)
	s[0], s[1], s[2], s[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}
