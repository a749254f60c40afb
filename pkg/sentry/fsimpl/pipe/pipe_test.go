package pipe

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/state"
	"appkernel.dev/appkernel/pkg/waiter"
)

func newPair(t *testing.T, flags uint32) (context.Context, *vfs.FileDescription, *vfs.FileDescription) {
	t.Helper()
	ctx := context.Background()
	fs := NewFS(vfs.New())
	r, w, err := fs.NewConnectedFDs(ctx, auth.NewRootCredentials(auth.NewRootUserNamespace()), flags)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, r, w
}

func write(ctx context.Context, fd *vfs.FileDescription, b []byte) (int64, error) {
	return fd.Write(ctx, vfs.BytesIOSequence(b), vfs.WriteOptions{})
}

func read(ctx context.Context, fd *vfs.FileDescription, n int) ([]byte, error) {
	b := make([]byte, n)
	m, err := fd.Read(ctx, vfs.BytesIOSequence(b), vfs.ReadOptions{})
	return b[:m], err
}

func TestBlockingReadWakesOnWrite(t *testing.T) {
	ctx, r, w := newPair(t, 0)
	defer r.DecRef(ctx)
	defer w.DecRef(ctx)
	got := make(chan []byte)
	go func() {
		b, _ := read(ctx, r, 100)
		got <- b
	}()
	select {
	case b := <-got:
		t.Fatalf("read returned %q before any write", b)
	case <-time.After(20 * time.Millisecond):
	}
	write(ctx, w, []byte("hello"))
	if b := <-got; string(b) != "hello" {
		t.Errorf("read %q", b)
	}
	if r.Readiness(waiter.AllEvents) != 0 {
		t.Error("empty pipe is readable")
	}
	if w.Readiness(waiter.AllEvents)&waiter.EventOut == 0 {
		t.Error("empty pipe not writable")
	}
}

func TestNonblockingAndEOF(t *testing.T) {
	ctx, r, w := newPair(t, linux.O_NONBLOCK)
	_, err := read(ctx, r, 10)
	if !errors.Is(err, linux.EAGAIN) {
		t.Errorf("empty nonblocking read: %v", err)
	}
	// Fill the pipe: the last write is partial, then EAGAIN.
	big := make([]byte, DefaultPipeSize+100)
	n, err := write(ctx, w, big)
	if n != DefaultPipeSize || err != nil {
		t.Errorf("fill: %d, %v", n, err)
	}
	if _, err := write(ctx, w, []byte("x")); !errors.Is(err, linux.EAGAIN) {
		t.Errorf("write to full pipe: %v", err)
	}
	if w.Readiness(waiter.WritableEvents) != 0 {
		t.Error("full pipe writable")
	}
	if _, err := r.PRead(ctx, vfs.BytesIOSequence(make([]byte, 1)), 0, vfs.ReadOptions{}); !errors.Is(err, linux.ESPIPE) {
		t.Errorf("pread: %v", err)
	}
	if _, err := r.Seek(ctx, 0, linux.SEEK_SET); !errors.Is(err, linux.ESPIPE) {
		t.Errorf("lseek: %v", err)
	}
	w.DecRef(ctx)
	if r.Readiness(waiter.ReadableEvents)&waiter.EventHUp == 0 {
		t.Error("no EventHUp after last writer closed")
	}
	total := 0
	for {
		b, err := read(ctx, r, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			break
		}
		total += len(b)
	}
	if total != DefaultPipeSize {
		t.Errorf("drained %d", total)
	}
	r.DecRef(ctx)
}

func TestEPIPE(t *testing.T) {
	ctx, r, w := newPair(t, 0)
	defer w.DecRef(ctx)
	r.DecRef(ctx)
	if w.Readiness(waiter.AllEvents)&waiter.EventErr == 0 {
		t.Error("no EventErr without readers")
	}
	if _, err := write(ctx, w, []byte("x")); !errors.Is(err, linux.EPIPE) {
		t.Errorf("write without readers: %v", err)
	}
}

func TestBlockedWriterGetsEPIPE(t *testing.T) {
	ctx, r, w := newPair(t, 0)
	defer w.DecRef(ctx)
	write(ctx, w, make([]byte, DefaultPipeSize))
	done := make(chan error)
	go func() {
		_, err := write(ctx, w, []byte("more"))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	r.DecRef(ctx)
	if err := <-done; !errors.Is(err, linux.EPIPE) {
		t.Errorf("blocked writer: %v", err)
	}
}

func TestInterrupt(t *testing.T) {
	_, r, w := newPair(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := read(ctx, r, 1)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, vfs.ErrInterrupted) {
		t.Errorf("interrupted read: %v", err)
	}
	r.DecRef(context.Background())
	w.DecRef(context.Background())
}

// Writers of at most PIPE_BUF bytes never interleave, even when they must
// wait for space.
func TestPipeBufAtomicity(t *testing.T) {
	ctx, r, w := newPair(t, 0)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('A' + i)}, linux.PIPE_BUF)
			for j := 0; j < each; j++ {
				if n, err := write(ctx, w, msg); n != linux.PIPE_BUF || err != nil {
					t.Errorf("write: %d %v", n, err)
					return
				}
			}
		}(i)
	}
	go func() { wg.Wait(); w.DecRef(ctx) }()
	var all []byte
	for {
		b, err := read(ctx, r, 3000) // deliberately not a multiple
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			break
		}
		all = append(all, b...)
	}
	if len(all) != writers*each*linux.PIPE_BUF {
		t.Fatalf("read %d bytes", len(all))
	}
	for off := 0; off < len(all); off += linux.PIPE_BUF {
		rec := all[off : off+linux.PIPE_BUF]
		if bytes.Count(rec, rec[:1]) != linux.PIPE_BUF {
			t.Fatalf("record at %d interleaved", off)
		}
	}
	r.DecRef(ctx)
}

// A write larger than the buffer completes as the reader drains it.
func TestLargeBlockingWrite(t *testing.T) {
	ctx, r, w := newPair(t, 0)
	data := make([]byte, 3*DefaultPipeSize+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	go func() {
		if n, err := write(ctx, w, data); n != int64(len(data)) || err != nil {
			t.Errorf("large write: %d %v", n, err)
		}
		w.DecRef(ctx)
	}()
	var got []byte
	for {
		b, _ := read(ctx, r, 5000)
		if len(b) == 0 {
			break
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, data) {
		t.Error("data corrupted")
	}
	r.DecRef(ctx)
}

type mem struct{ b []byte }

func (m *mem) CopyOutBytes(_ context.Context, addr uint64, src []byte) (int, error) {
	return copy(m.b[addr:], src), nil
}
func (m *mem) CopyInBytes(_ context.Context, addr uint64, dst []byte) (int, error) {
	return copy(dst, m.b[addr:]), nil
}

func TestFIONREADAndCapacity(t *testing.T) {
	ctx, r, w := newPair(t, 0)
	defer r.DecRef(ctx)
	defer w.DecRef(ctx)
	write(ctx, w, []byte("12345"))
	m := &mem{b: make([]byte, 8)}
	if _, err := r.Ioctl(ctx, m, linux.FIONREAD, 4); err != nil || m.b[4] != 5 {
		t.Errorf("FIONREAD: %v %v", err, m.b)
	}
	p, _ := FromFD(r)
	if n, err := p.SetCapacity(1, false); n != linux.PageSize || err != nil {
		t.Errorf("shrink to 1: %d %v", n, err)
	}
	if _, err := p.SetCapacity(2<<20, false); !errors.Is(err, linux.EPERM) {
		t.Errorf("grow unprivileged: %v", err)
	}
	if n, _ := p.SetCapacity(100000, false); n != 131072 {
		t.Errorf("round up: %d", n)
	}
	if b, _ := read(ctx, r, 10); string(b) != "12345" {
		t.Errorf("data after resize: %q", b)
	}
	st, err := r.Stat(ctx, vfs.StatOptions{})
	if err != nil || st.Mode&linux.S_IFMT != linux.S_IFIFO {
		t.Errorf("fstat pipe: %#o %v", st.Mode, err)
	}
}

func TestSaveRestorePipe(t *testing.T) {
	ctx, r, w := newPair(t, 0)
	write(ctx, w, []byte("in flight"))
	tab := vfs.NewFDTable()
	tab.NewFDs(ctx, 0, []*vfs.FileDescription{r, w}, vfs.FDFlags{})
	r.DecRef(ctx)
	w.DecRef(ctx)
	// A registered waiter (as epoll would have) is saved too.
	e := &waiter.Entry{}
	e.Init(&waiter.ChannelListener{}, waiter.EventIn)
	r.EventRegister(e)
	var buf bytes.Buffer
	if err := state.Save(&buf, tab); err != nil {
		t.Fatal(err)
	}
	restored := &vfs.FDTable{}
	if err := state.Load(&buf, restored); err != nil {
		t.Fatal(err)
	}
	rr, _ := restored.Get(0)
	ww, _ := restored.Get(1)
	defer rr.DecRef(ctx)
	if b, _ := read(ctx, rr, 100); string(b) != "in flight" {
		t.Errorf("restored pipe holds %q", b)
	}
	ww.DecRef(ctx)
	restored.RemoveIf(ctx, func(fd int32, _ *vfs.FileDescription, _ vfs.FDFlags) bool { return fd == 1 })
	if b, err := read(ctx, rr, 1); len(b) != 0 || err != nil {
		t.Errorf("EOF after restored writer closed: %q %v", b, err)
	}
}
