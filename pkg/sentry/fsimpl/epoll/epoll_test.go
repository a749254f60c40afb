package epoll

import (
	"context"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/eventfd"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

type fixture struct {
	t   *testing.T
	ctx context.Context
	vfs *vfs.VirtualFilesystem
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, ctx: context.Background(), vfs: vfs.New()}
}

func (f *fixture) epoll() (*vfs.FileDescription, *EventPoll) {
	fd := New(f.vfs)
	ep, ok := FromFD(fd)
	if !ok {
		f.t.Fatal("FromFD failed on an epoll file")
	}
	return fd, ep
}

func (f *fixture) eventfd(v uint64) (*vfs.FileDescription, *eventfd.EventFD) {
	fd := eventfd.New(f.vfs, v, linux.EFD_NONBLOCK)
	return fd, fd.Impl().(*eventfd.EventFD)
}

func (f *fixture) ctl(epfd *vfs.FileDescription, op int32, file *vfs.FileDescription, num int32, events uint32, data uint64) error {
	return Control(f.ctx, epfd, op, file, num, events, data)
}

func datas(evs []Event) []uint64 {
	var d []uint64
	for _, e := range evs {
		d = append(d, e.Data)
	}
	return d
}

func TestLevelEdgeOneShot(t *testing.T) {
	f := newFixture(t)
	epfd, ep := f.epoll()
	lt, _ := f.eventfd(1)
	et, _ := f.eventfd(1)
	os, _ := f.eventfd(1)
	for i, file := range []*vfs.FileDescription{lt, et, os} {
		flags := []uint32{0, linux.EPOLLET, linux.EPOLLONESHOT}[i]
		if err := f.ctl(epfd, linux.EPOLL_CTL_ADD, file, int32(i), linux.EPOLLIN|flags, uint64(i)); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	if got := datas(ep.ReadEvents(f.ctx, 10)); len(got) != 3 {
		t.Fatalf("first scan: got %v, want all three", got)
	}
	// Only the level-triggered one is still reported.
	if got := datas(ep.ReadEvents(f.ctx, 10)); len(got) != 1 || got[0] != 0 {
		t.Fatalf("second scan: got %v, want [0]", got)
	}
	// A new event re-reports the edge-triggered one, not the one-shot.
	et.Impl().(*eventfd.EventFD).Signal(f.ctx, 1, true)
	os.Impl().(*eventfd.EventFD).Signal(f.ctx, 1, true)
	if got := datas(ep.ReadEvents(f.ctx, 10)); len(got) != 2 {
		t.Fatalf("after new events: got %v, want [0 1]", got)
	}
	if err := f.ctl(epfd, linux.EPOLL_CTL_MOD, os, 2, linux.EPOLLIN|linux.EPOLLONESHOT, 7); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range datas(ep.ReadEvents(f.ctx, 10)) {
		found = found || d == 7
	}
	if !found {
		t.Fatal("MOD did not re-arm the one-shot interest")
	}
}

func TestRoundRobin(t *testing.T) {
	f := newFixture(t)
	epfd, ep := f.epoll()
	for i := 0; i < 4; i++ {
		file, _ := f.eventfd(1)
		if err := f.ctl(epfd, linux.EPOLL_CTL_ADD, file, int32(i), linux.EPOLLIN, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint64]int{}
	for i := 0; i < 8; i++ {
		evs := ep.ReadEvents(f.ctx, 1)
		if len(evs) != 1 {
			t.Fatalf("scan %d: %d events", i, len(evs))
		}
		seen[evs[0].Data]++
	}
	for d, n := range seen {
		if n != 2 {
			t.Errorf("file %d reported %d times in 8 scans of 4 ready files", d, n)
		}
	}
}

func TestClosedFileIsDropped(t *testing.T) {
	f := newFixture(t)
	epfd, ep := f.epoll()
	file, _ := f.eventfd(1)
	if err := f.ctl(epfd, linux.EPOLL_CTL_ADD, file, 3, linux.EPOLLIN, 1); err != nil {
		t.Fatal(err)
	}
	if file.ReadRefs() != 1 {
		t.Fatalf("registration took a reference: refs = %d", file.ReadRefs())
	}
	file.DecRef(f.ctx)
	if evs := ep.ReadEvents(f.ctx, 10); len(evs) != 0 {
		t.Fatalf("closed file reported: %v", datas(evs))
	}
	if ep.Len() != 0 {
		t.Fatalf("closed file still registered")
	}
}

func TestSweepBoundsGrowth(t *testing.T) {
	f := newFixture(t)
	epfd, ep := f.epoll()
	for i := 0; i < 10*minSweep; i++ {
		file, _ := f.eventfd(0)
		if err := f.ctl(epfd, linux.EPOLL_CTL_ADD, file, int32(i), linux.EPOLLIN, 0); err != nil {
			t.Fatal(err)
		}
		file.DecRef(f.ctx)
	}
	if n := ep.Len(); n > minSweep {
		t.Fatalf("%d registrations of closed files kept, want at most %d", n, minSweep)
	}
}

func TestNestingLimits(t *testing.T) {
	f := newFixture(t)
	var fds []*vfs.FileDescription
	for i := 0; i < 6; i++ {
		fd, _ := f.epoll()
		fds = append(fds, fd)
	}
	for i := 0; i < 4; i++ {
		if err := f.ctl(fds[i], linux.EPOLL_CTL_ADD, fds[i+1], 0, linux.EPOLLIN, 0); err != nil {
			t.Fatalf("link %d: %v", i, err)
		}
	}
	if err := f.ctl(fds[4], linux.EPOLL_CTL_ADD, fds[5], 0, linux.EPOLLIN, 0); err != linux.ELOOP {
		t.Errorf("fifth link: got %v, want ELOOP", err)
	}
	if err := f.ctl(fds[2], linux.EPOLL_CTL_ADD, fds[0], 0, linux.EPOLLIN, 0); err != linux.ELOOP {
		t.Errorf("cycle: got %v, want ELOOP", err)
	}
	if err := f.ctl(fds[0], linux.EPOLL_CTL_ADD, fds[0], 0, linux.EPOLLIN, 0); err != linux.EINVAL {
		t.Errorf("self: got %v, want EINVAL", err)
	}
	// Closing the middle epoll takes it out of the graph.
	if err := f.ctl(fds[1], linux.EPOLL_CTL_DEL, fds[2], 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.ctl(fds[4], linux.EPOLL_CTL_ADD, fds[5], 0, linux.EPOLLIN, 0); err != nil {
		t.Errorf("after unlinking: %v", err)
	}
}

func TestNestedReadinessAndWait(t *testing.T) {
	f := newFixture(t)
	outerFD, outer := f.epoll()
	innerFD, _ := f.epoll()
	file, efd := f.eventfd(0)
	if err := f.ctl(innerFD, linux.EPOLL_CTL_ADD, file, 0, linux.EPOLLIN, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.ctl(outerFD, linux.EPOLL_CTL_ADD, innerFD, 1, linux.EPOLLIN, 42); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		efd.Signal(f.ctx, 1, true)
	}()
	evs, err := outer.Wait(f.ctx, 4, time.Now().Add(10*time.Second), true)
	if err != nil || len(evs) != 1 || evs[0].Data != 42 {
		t.Fatalf("Wait = %v, %v; want the inner epoll's event", datas(evs), err)
	}
	// Timeout with nothing ready.
	var buf [8]byte
	if _, err := file.Read(f.ctx, vfs.BytesIOSequence(buf[:]), vfs.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	evs, err = outer.Wait(f.ctx, 4, start.Add(20*time.Millisecond), true)
	if err != nil || len(evs) != 0 || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("Wait on idle epoll = %v, %v after %v", datas(evs), err, time.Since(start))
	}
}

func TestPutBack(t *testing.T) {
	f := newFixture(t)
	epfd, ep := f.epoll()
	file, _ := f.eventfd(1)
	if err := f.ctl(epfd, linux.EPOLL_CTL_ADD, file, 0, linux.EPOLLIN|linux.EPOLLONESHOT, 5); err != nil {
		t.Fatal(err)
	}
	evs := ep.ReadEvents(f.ctx, 1)
	if len(evs) != 1 {
		t.Fatal("not reported")
	}
	ep.PutBack(evs)
	if evs := ep.ReadEvents(f.ctx, 1); len(evs) != 1 {
		t.Fatal("put-back one-shot event not reported again")
	}
}
