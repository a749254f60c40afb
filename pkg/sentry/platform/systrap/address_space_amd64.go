package systrap

import (
	"fmt"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// addressSpace is one stub process. Its leader thread never runs
// application code: it executes the Sentry's commands (mmap, munmap,
// clone of more threads). Application threads run on a pool of other stub
// threads, created on demand, so there are as many as the most contexts
// that ever ran in this address space at once.
type addressSpace struct {
	p      *Platform
	pid    int32
	leader *thread

	// cmdMu serializes commands to the leader; it also guards nextLocal
	// and syncCoreErr.
	cmdMu     sync.Mutex
	nextLocal int
	// syncCoreErr is the result of registering for SyncCore, once tried.
	syncCoreErr   error
	syncCoreTried bool

	// mu guards pool, threads, orphans, dead and released.
	mu       sync.Mutex
	pool     []*thread // idle application threads
	threads  []*thread // every application thread
	orphans  []*slot   // slots the process may map that no thread uses
	dead     bool      // the process is (being) killed
	released bool
}

var _ platform.AddressSpace = (*addressSpace)(nil)

// get takes an idle stub thread, preferring hint (the one the context
// last ran on, which may still hold its FS base), or creates one.
func (s *addressSpace) get(hint *thread) (*thread, error) {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, platform.ErrContextDead
	}
	var t *thread
	if hint != nil && hint.as == s && hint.inPool {
		t = hint
		for i, u := range s.pool {
			if u == hint {
				s.pool = append(s.pool[:i], s.pool[i+1:]...)
				break
			}
		}
	} else if n := len(s.pool); n > 0 {
		t = s.pool[n-1]
		s.pool = s.pool[:n-1]
	}
	if t != nil {
		t.inPool = false
		s.mu.Unlock()
		return t, nil
	}
	s.mu.Unlock()
	return s.newThread()
}

// put returns t to the pool; a thread that failed is dropped instead.
func (s *addressSpace) put(t *thread, ok bool) {
	s.mu.Lock()
	if ok && !s.dead {
		t.inPool = true
		s.pool = append(s.pool, t)
	}
	s.mu.Unlock()
}

// newThread has the leader clone a stub thread.
func (s *addressSpace) newThread() (*thread, error) {
	p := s.p
	sl, err := p.slots.alloc()
	if err != nil {
		return nil, fmt.Errorf("systrap: no free slot: %w", err)
	}
	sl.init(p)
	s.cmdMu.Lock()
	local := s.nextLocal
	if local >= maxLocalSlot {
		s.cmdMu.Unlock()
		p.slots.release(sl)
		return nil, fmt.Errorf("systrap: too many stub threads: %w", unix.EAGAIN)
	}
	s.nextLocal++
	ret, err := s.leader.command(p, cmdCloneThread, uint64(slotRegion+local*slotSize), uint64(sl.off()))
	s.cmdMu.Unlock()
	if err == nil && ret < 0 {
		err = fmt.Errorf("systrap: clone of a stub thread: %w", unix.Errno(-ret))
	}
	var t *thread
	if err == nil {
		t = &thread{as: s, tgid: s.pid, tid: int32(ret), slot: sl}
		if err = p.waitReady(t); err != nil {
			// The thread is in an unknown state: the process cannot
			// be trusted to run anything any more.
			s.kill()
		}
	}
	s.mu.Lock()
	if err == nil && s.dead {
		err = platform.ErrContextDead
	}
	if err != nil {
		// The stub may have mapped the slot already: it is scrubbed
		// and reused only once the process is gone.
		s.orphans = append(s.orphans, sl)
	} else {
		s.threads = append(s.threads, t)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return t, nil
}

// checkRange reports whether [addr, addr+length) is a valid, page-aligned
// application range.
func checkRange(addr, length uintptr) bool {
	end := addr + length
	return addr%pageSize == 0 && length%pageSize == 0 && end >= addr && end <= stub.MaxUserAddress
}

var pageSize = uintptr(unix.Getpagesize())

// syscall runs a system call in the leader.
func (s *addressSpace) syscall(nr uintptr, args ...uint64) (int64, error) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	s.mu.Lock()
	dead := s.dead
	s.mu.Unlock()
	if dead {
		return 0, platform.ErrContextDead
	}
	return s.leader.command(s.p, cmdSyscall, append([]uint64{uint64(nr)}, args...)...)
}

// MapFile implements platform.AddressSpace.MapFile.
func (s *addressSpace) MapFile(addr uintptr, offset uint64, length uintptr, at platform.AccessType) error {
	if length == 0 || !checkRange(addr, length) || offset%uint64(pageSize) != 0 {
		return linux.EINVAL
	}
	ret, err := s.syscall(unix.SYS_MMAP, uint64(addr), uint64(length), uint64(at.Prot()),
		unix.MAP_SHARED|unix.MAP_FIXED, stub.MemFD, offset)
	if err != nil {
		return err
	}
	if err := errnoOf(ret); err != nil {
		return err
	}
	if uintptr(ret) != addr {
		return linux.EFAULT
	}
	return nil
}

// Unmap implements platform.AddressSpace.Unmap. The range is clipped to the
// application's: the stub's own regions are never unmapped.
func (s *addressSpace) Unmap(addr, length uintptr) {
	end := addr + length
	if end < addr || end > stub.MaxUserAddress {
		end = stub.MaxUserAddress
	}
	addr &^= pageSize - 1
	if addr >= end {
		return
	}
	ret, err := s.syscall(unix.SYS_MUNMAP, uint64(addr), uint64(end-addr))
	if err == nil {
		err = errnoOf(ret)
	}
	if err != nil {
		log.Warningf("systrap: unmap %#x-%#x: %v", addr, end, err)
	}
}

// kill marks the address space dead and kills its process; threads
// running application code come back from Switch with ErrContextDead.
func (s *addressSpace) kill() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
	unix.Kill(int(s.pid), unix.SIGKILL)
}

// Release implements platform.AddressSpace.Release: the stub process is
// killed and reaped, and its slots scrubbed and freed.
func (s *addressSpace) Release() {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	s.dead, s.released = true, true
	threads, orphans := s.threads, s.orphans
	s.threads, s.pool, s.orphans = nil, nil, nil
	s.mu.Unlock()
	// A command in flight on the leader notices the death (see
	// slot.wait) and lets go of cmdMu.
	unix.Kill(int(s.pid), unix.SIGKILL)
	s.cmdMu.Lock()
	reap(s.pid)
	s.cmdMu.Unlock()
	for _, t := range threads {
		s.p.slots.release(t.slot)
	}
	for _, sl := range orphans {
		s.p.slots.release(sl)
	}
	s.p.slots.release(s.leader.slot)

	s.p.mu.Lock()
	delete(s.p.spaces, s)
	s.p.mu.Unlock()
}

// SyncCore implements platform.CoreSyncer with membarrier(2)'s
// PRIVATE_EXPEDITED_SYNC_CORE, run by the leader: every thread of the
// process executes a core-serializing instruction before it runs
// application code again.
func (s *addressSpace) SyncCore() error {
	s.cmdMu.Lock()
	if !s.syncCoreTried {
		s.syncCoreTried = true
		ret, err := s.leader.command(s.p, cmdSyscall, unix.SYS_MEMBARRIER, linux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0)
		if err == nil {
			err = errnoOf(ret)
		}
		s.syncCoreErr = err
	}
	err := s.syncCoreErr
	s.cmdMu.Unlock()
	if err != nil {
		return err
	}
	ret, err := s.syscall(unix.SYS_MEMBARRIER, linux.MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0)
	if err != nil {
		return err
	}
	return errnoOf(ret)
}
