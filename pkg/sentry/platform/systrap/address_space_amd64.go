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

	// cmdMu serializes commands to the leader; it also guards nextLocal.
	cmdMu     sync.Mutex
	nextLocal int

	// mu guards pool, threads, orphans, dead and released.
	mu       sync.Mutex
	pool     []*thread // idle application threads
	threads  []*thread // every application thread
	orphans  []*slot   // slots the process may map that no thread uses
	dead     bool      // the process is (being) killed
	released bool
}

var (
	_ platform.AddressSpace   = (*addressSpace)(nil)
	_ platform.MappingBatcher = (*addressSpace)(nil)
)

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

// onIdleThread runs f on an idle thread of the process. The one that
// trapped last is preferred over the leader, since it is most likely still
// spinning for its next command (after a page fault, it is) while the
// leader has long gone to sleep, and waking a sleeping thread can cost a
// halted vCPU's wake-up, a hundred times the handoff.
func (s *addressSpace) onIdleThread(f func(t *thread) (int64, error)) (int64, error) {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return 0, platform.ErrContextDead
	}
	if n := len(s.pool); n > 0 {
		t := s.pool[n-1]
		s.pool = s.pool[:n-1]
		t.inPool = false
		s.mu.Unlock()
		ret, err := f(t)
		s.put(t, err == nil)
		return ret, err
	}
	s.mu.Unlock()
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	return f(s.leader)
}

// syscall runs a system call in the stub process.
func (s *addressSpace) syscall(nr uintptr, args ...uint64) (int64, error) {
	args = append([]uint64{uint64(nr)}, args...)
	return s.onIdleThread(func(t *thread) (int64, error) {
		return t.command(s.p, cmdSyscall, args...)
	})
}

// MapFile implements platform.AddressSpace.MapFile.
func (s *addressSpace) MapFile(addr uintptr, offset uint64, length uintptr, at platform.AccessType) error {
	return s.ApplyMappings([]platform.MappingChange{{Addr: addr, Offset: offset, Length: length, Access: at}})
}

// Unmap implements platform.AddressSpace.Unmap. The range is clipped to the
// application's: the stub's own regions are never unmapped.
func (s *addressSpace) Unmap(addr, length uintptr) {
	s.ApplyMappings([]platform.MappingChange{{Addr: addr, Length: length}})
}

// ApplyMappings implements platform.MappingBatcher: up to maxBatch mmap and
// munmap calls go to the stub in one command.
func (s *addressSpace) ApplyMappings(changes []platform.MappingChange) error {
	var first error
	fail := func(err error) {
		if first == nil {
			first = err
		}
	}
	calls := make([]batchCall, 0, min(len(changes), maxBatch))
	var sent []platform.MappingChange
	flush := func() {
		if len(calls) == 0 {
			return
		}
		_, err := s.onIdleThread(func(t *thread) (int64, error) {
			sl := t.slot
			for i, c := range calls {
				for j, v := range c {
					*sl.u64(offBatch + uintptr(i)*batchCallSize + uintptr(j)*8) = v
				}
			}
			ret, err := t.command(s.p, cmdBatch, uint64(len(calls)))
			if err != nil {
				// The thread is lost (and left out of the pool).
				return 0, err
			}
			if err := errnoOf(ret); err != nil {
				fail(err)
				return 0, nil
			}
			for i, c := range sent {
				ret := int64(*sl.u64(offBatch + uintptr(i)*batchCallSize))
				if err := errnoOf(ret); err != nil {
					if c.Access == platform.NoAccess {
						log.Warningf("systrap: unmap %#x+%#x: %v", c.Addr, c.Length, err)
					} else {
						fail(err)
					}
				} else if c.Access != platform.NoAccess && uintptr(ret) != c.Addr {
					fail(linux.EFAULT)
				}
			}
			return 0, nil
		})
		if err != nil {
			fail(err)
		}
		calls, sent = calls[:0], sent[:0]
	}
	for _, c := range changes {
		call, ok, err := mappingCall(c)
		if err != nil {
			fail(err)
		}
		if !ok {
			continue
		}
		calls = append(calls, call)
		sent = append(sent, c)
		if len(calls) == maxBatch {
			flush()
		}
	}
	flush()
	return first
}

// batchCall is one system call of a cmdBatch: the number, then the
// arguments.
type batchCall [batchCallSize / 8]uint64

// mappingCall returns the mmap or munmap call that makes change c, or
// false if there is nothing to do (an unmap outside the application's
// range) or c is invalid (with the error).
func mappingCall(c platform.MappingChange) (batchCall, bool, error) {
	if c.Access == platform.NoAccess {
		end := c.Addr + c.Length
		if end < c.Addr || end > stub.MaxUserAddress {
			end = stub.MaxUserAddress
		}
		addr := c.Addr &^ (pageSize - 1)
		if addr >= end {
			return batchCall{}, false, nil
		}
		return batchCall{unix.SYS_MUNMAP, uint64(addr), uint64(end - addr)}, true, nil
	}
	if c.Length == 0 || !checkRange(c.Addr, c.Length) || c.Offset%uint64(pageSize) != 0 {
		return batchCall{}, false, linux.EINVAL
	}
	return batchCall{unix.SYS_MMAP, uint64(c.Addr), uint64(c.Length), uint64(c.Access.Prot()),
		unix.MAP_SHARED | unix.MAP_FIXED, stub.MemFD, c.Offset}, true, nil
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
// PRIVATE_EXPEDITED_SYNC_CORE: every thread of the process executes a
// core-serializing instruction before it runs application code again.
// The registration it needs was inherited from the pristine stub (see
// startPristine).
func (s *addressSpace) SyncCore() error {
	if s.p.syncCoreErr != nil {
		return s.p.syncCoreErr
	}
	ret, err := s.syscall(unix.SYS_MEMBARRIER, linux.MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0)
	if err != nil {
		return err
	}
	return errnoOf(ret)
}
