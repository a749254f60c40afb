package ptrace

import (
	"runtime"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// addressSpace is one stub process.
type addressSpace struct {
	p   *Platform
	pid int32 // the leader: untraced, parked at stub Idle when not borrowed

	// cloneMu serializes borrowing the leader to clone new threads.
	cloneMu sync.Mutex

	// mu guards threads and dead.
	mu sync.Mutex
	// threads maps a Sentry OS thread id to the stub thread it traces.
	threads map[int32]*thread
	// dead is set by Release.
	dead bool
}

var _ platform.AddressSpace = (*addressSpace)(nil)

// Flags for stub threads: everything a POSIX thread shares.
const threadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM

// threadFor returns the stub thread traced by the calling OS thread,
// creating it on first use. The caller must hold its OS thread locked.
func (s *addressSpace) threadFor(tracer int32) (*thread, error) {
	s.mu.Lock()
	dead := s.dead
	t := s.threads[tracer]
	s.mu.Unlock()
	if dead {
		return nil, platform.ErrContextDead
	}
	if t != nil {
		return t, nil
	}
	t, err := s.cloneThread()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.threads[tracer] = t
	s.mu.Unlock()
	return t, nil
}

// forget drops t after it died.
func (s *addressSpace) forget(tracer int32, t *thread) {
	s.mu.Lock()
	if s.threads[tracer] == t {
		delete(s.threads, tracer)
	}
	s.mu.Unlock()
}

// cloneThread borrows the leader to clone a new stub thread, which the
// calling OS thread inherits as tracer through PTRACE_O_TRACECLONE.
func (s *addressSpace) cloneThread() (*thread, error) {
	s.cloneMu.Lock()
	defer s.cloneMu.Unlock()
	p := s.p
	if err := seize(s.pid, appThreadOptions|unix.PTRACE_O_TRACECLONE); err != nil {
		return nil, err
	}
	regs := p.stubRegs
	syscallRegs(&regs, stub.Layout().ThreadClone, unix.SYS_CLONE, threadCloneFlags)
	ret, msg, err := inject(s.pid, &regs, stub.Layout().ThreadCloneTrap, unix.PTRACE_EVENT_CLONE)
	if perr := park(s.pid, &p.stubRegs); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	if e := errnoOf(ret); e != nil {
		return nil, errStub("clone", s.pid, e)
	}
	tid := int32(msg)
	// The new thread starts in a ptrace stop, before running anything.
	if _, err := waitStop(tid); err != nil {
		return nil, err
	}
	if err := ptrace(unix.PTRACE_SETOPTIONS, tid, 0, appThreadOptions); err != nil {
		return nil, errStub("PTRACE_SETOPTIONS", tid, err)
	}
	return &thread{tgid: s.pid, tid: tid, cpu: -1}, nil
}

// checkRange reports whether [addr, addr+length) is a valid, page-aligned
// application range.
func checkRange(addr, length uintptr) bool {
	end := addr + length
	return addr%pageSize == 0 && length%pageSize == 0 && end >= addr && end <= stub.MaxUserAddress
}

// pageSize is the host's page size, the granularity of MapFile and Unmap.
var pageSize = uintptr(unix.Getpagesize())

// MapFile implements platform.AddressSpace.MapFile by injecting mmap into
// the stub thread the calling OS thread traces.
func (s *addressSpace) MapFile(addr uintptr, offset uint64, length uintptr, at platform.AccessType) error {
	if length == 0 || !checkRange(addr, length) || offset%uint64(pageSize) != 0 {
		return linux.EINVAL
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tracer := gettid()
	t, err := s.threadFor(tracer)
	if err != nil {
		return err
	}
	t.mu.Lock()
	ret, err := s.p.syscall(t, unix.SYS_MMAP, addr, length, uintptr(at.Prot()),
		unix.MAP_SHARED|unix.MAP_FIXED, stub.MemFD, uintptr(offset))
	t.mu.Unlock()
	if err != nil {
		s.forget(tracer, t)
		return err
	}
	if e := errnoOf(ret); e != nil {
		return linux.Errno(e.(unix.Errno))
	}
	if uintptr(ret) != addr {
		return linux.EFAULT
	}
	return nil
}

// Unmap implements platform.AddressSpace.Unmap. The range is clipped to the
// application's: the stub region is never unmapped.
func (s *addressSpace) Unmap(addr, length uintptr) {
	end := addr + length
	if end < addr || end > stub.MaxUserAddress {
		end = stub.MaxUserAddress
	}
	addr &^= pageSize - 1
	if addr >= end {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tracer := gettid()
	t, err := s.threadFor(tracer)
	if err != nil {
		log.Warningf("ptrace: unmap %#x-%#x: %v", addr, end, err)
		return
	}
	t.mu.Lock()
	ret, err := s.p.syscall(t, unix.SYS_MUNMAP, addr, end-addr)
	t.mu.Unlock()
	if err != nil {
		s.forget(tracer, t)
		log.Warningf("ptrace: unmap %#x-%#x: %v", addr, end, err)
		return
	}
	if e := errnoOf(ret); e != nil {
		log.Warningf("ptrace: unmap %#x-%#x: %v", addr, end, e)
	}
}

// Release implements platform.AddressSpace.Release: the stub process is
// killed and every one of its threads reaped.
func (s *addressSpace) Release() {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return
	}
	s.dead = true
	threads := s.threads
	s.threads = nil
	s.mu.Unlock()

	unix.Kill(int(s.pid), unix.SIGKILL)
	// Traced threads stay zombies until their tracer's thread group
	// waits for them; the leader can be reaped only after them.
	for _, t := range threads {
		reap(t.tid)
	}
	reap(s.pid)

	s.p.mu.Lock()
	delete(s.p.spaces, s)
	s.p.mu.Unlock()
}
