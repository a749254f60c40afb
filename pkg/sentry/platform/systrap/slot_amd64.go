package systrap

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"appkernel.dev/appkernel/pkg/sentry/platform"
	"golang.org/x/sys/unix"
)

// maxSlots bounds the number of stub threads alive at once in the whole
// sandbox; the Sentry maps the slot file (maxSlots*slotSize, sparse) once.
const maxSlots = 1 << 14

// slotFile is the memfd holding every slot, mapped whole in the Sentry.
type slotFile struct {
	fd  int
	mem []byte

	// mu guards free and next.
	mu   sync.Mutex
	free []int // released slot indices
	next int   // slots [next, maxSlots) were never used
}

func (f *slotFile) alloc() (*slot, error) {
	f.mu.Lock()
	idx := -1
	if n := len(f.free); n > 0 {
		idx = f.free[n-1]
		f.free = f.free[:n-1]
	} else if f.next < maxSlots {
		idx = f.next
		f.next++
	}
	f.mu.Unlock()
	if idx < 0 {
		return nil, unix.EAGAIN
	}
	return &slot{f: f, idx: idx, base: unsafe.Pointer(&f.mem[idx*slotSize])}, nil
}

// release returns s to the free list. Its pages are discarded (read back
// as zeros), so that nothing a previous thread left there, registers or
// signal frames, shows through in the next one.
func (f *slotFile) release(s *slot) {
	unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, s.off(), slotSize)
	f.mu.Lock()
	f.free = append(f.free, s.idx)
	f.mu.Unlock()
}

// slot is the Sentry's view of one stub thread's slot.
type slot struct {
	f    *slotFile
	idx  int
	base unsafe.Pointer
}

func (s *slot) off() int64                  { return int64(s.idx) * slotSize }
func (s *slot) u32(off uintptr) *uint32     { return (*uint32)(unsafe.Add(s.base, off)) }
func (s *slot) u64(off uintptr) *uint64     { return (*uint64)(unsafe.Add(s.base, off)) }
func (s *slot) bytes(off, n uintptr) []byte { return unsafe.Slice((*byte)(unsafe.Add(s.base, off)), n) }

// init prepares a fresh (zero) slot for a new thread.
func (s *slot) init(p *Platform) {
	*s.u32(offFlags) = p.flags
	*s.u32(offSpin) = p.stubSpin
	*s.u32(offFPSize) = uint32(p.fpSize)
	*s.u64(offXFeatures) = p.fp.xfeatures
}

// publish hands the slot to the stub, waking it if it sleeps.
func (s *slot) publish(cmd uint32) {
	*s.u32(offCmd) = cmd
	if *s.u32(offFlags)&flagCPU != 0 {
		*s.u32(offSentryCPU) = cpuAux()
	}
	if atomic.SwapUint32(s.u32(offState), stateStub)&sleepBit != 0 {
		futexWake(s.u32(offState))
	}
}

// Liveness polling: a stub that dies does not wake a sleeping waiter, so
// the wait times out now and then to look.
const livenessPeriod = 50 * time.Millisecond

// wait waits until the stub hands the slot back: spin for spin
// iterations, then sleep on the state word. alive is asked after every
// livenessPeriod of sleep; when it says no, wait fails with
// platform.ErrContextDead.
func (s *slot) wait(spin int, alive func() bool) error {
	st := s.u32(offState)
	if *s.u32(offFlags)&flagCPU != 0 && *s.u32(offStubCPU) == *s.u32(offSentryCPU) {
		// The stub last ran on this CPU (offSentryCPU was set by
		// publish just now): spinning would only delay it.
		spin = 0
	}
	for i := 0; i < spin; i++ {
		if atomic.LoadUint32(st)&0xff == stateSentry {
			return nil
		}
		pause()
	}
	for {
		v := atomic.LoadUint32(st)
		if v&0xff == stateSentry {
			return nil
		}
		if v&sleepBit == 0 {
			if !atomic.CompareAndSwapUint32(st, v, v|sleepBit) {
				continue
			}
			v |= sleepBit
		}
		if futexWait(st, v, livenessPeriod) == unix.ETIMEDOUT && !alive() {
			return platform.ErrContextDead
		}
	}
}
