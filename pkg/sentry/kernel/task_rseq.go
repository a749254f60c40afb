package kernel

import (
	"encoding/binary"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
)

// Restartable sequences, rseq(2).
//
// A thread registers a struct rseq; the Sentry keeps its CPU fields up to
// date (the thread's virtual CPU, rseq_cpus.go) and, whenever the thread
// returns to application code after being preempted, migrated, or told
// to by membarrier, or when a signal handler is about to run, aborts the
// critical section its rseq_cs field describes if the thread's IP is
// inside it: the IP moves to the section's abort handler. This is
// Linux's rseq_ip_fixup; its checks (a bad descriptor or signature is a
// SIGSEGV) are the same. A system call inside a critical section is a
// bug Linux only catches with CONFIG_DEBUG_RSEQ; nothing is done here.

// RseqFeatureSize is AT_RSEQ_FEATURE_SIZE: the fields of struct rseq the
// Sentry maintains, up to mm_cid, as on Linux 6.3 and later.
const RseqFeatureSize = 28

// rseqAlign is the alignment of struct rseq (AT_RSEQ_ALIGN).
const rseqAlign = 32

// taskRseq is a thread's rseq registration. Immutable but for slot and
// forceAbort.
type taskRseq struct {
	addr   uintptr
	length uint32
	sig    uint32
	cpus   *rseqCPUTable
	// slot is the virtual CPU whose number the rseq area holds, -1 until
	// it has been written. Written by the task goroutine, read by
	// membarrier.
	slot atomic.Int32
	// forceAbort is set by membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ):
	// the next return to application code checks the critical section.
	forceAbort atomic.Bool
}

// RseqRegister registers addr as t's struct rseq (rseq(2) without flags).
func (t *Task) RseqRegister(addr uintptr, length, sig uint32) error {
	if r := t.rseq.Load(); r != nil {
		if r.addr != addr || r.length != length {
			return linux.EINVAL
		}
		if r.sig != sig {
			return linux.EPERM
		}
		return linux.EBUSY
	}
	// The original 32-byte struct needs only its own alignment; a longer
	// one must cover every field this kernel writes.
	if length < linux.RseqOrigSize || addr%rseqAlign != 0 ||
		(length != linux.RseqOrigSize && length < RseqFeatureSize) {
		return linux.EINVAL
	}
	if end := addr + uintptr(length); end < addr || end > t.k.Platform.MaxUserAddress() {
		return linux.EFAULT
	}
	r := &taskRseq{addr: addr, length: length, sig: sig, cpus: t.tg.rseqCPUs()}
	r.slot.Store(-1)
	t.rseq.Store(r)
	return nil
}

// RseqUnregister ends t's registration of addr (RSEQ_FLAG_UNREGISTER).
func (t *Task) RseqUnregister(addr uintptr, length, sig uint32) error {
	r := t.rseq.Load()
	if r == nil || r.addr != addr || r.length != length {
		return linux.EINVAL
	}
	if r.sig != sig {
		return linux.EPERM
	}
	// As Linux, the area is reset to "not registered" values first.
	uninit := int32(linux.RSEQ_CPU_ID_UNINITIALIZED)
	if err := t.rseqWriteIDs(r, 0, uint32(uninit), 0, 0); err != nil {
		return err
	}
	t.rseq.Store(nil)
	return nil
}

// rseqFork gives a child created without CLONE_VM its parent's
// registration: same address, fresh CPU state. Threads (CLONE_VM)
// register their own.
func (t *Task) rseqFork(child *Task, cloneFlags uint64) {
	r := t.rseq.Load()
	if r == nil || cloneFlags&linux.CLONE_VM != 0 {
		return
	}
	cr := &taskRseq{addr: r.addr, length: r.length, sig: r.sig, cpus: child.tg.rseqCPUs()}
	cr.slot.Store(-1)
	child.rseq.Store(cr)
}

// rseqExec drops t's registration: a new program registers its own.
func (t *Task) rseqExec() {
	t.rseq.Store(nil)
}

// rseqEnter leases t a virtual CPU before it runs application code, and
// brings its rseq area up to date: CPU fields after a migration, the
// critical section aborted after a preemption. It returns false when t
// must go back through the run loop first (interrupted while waiting, or
// a SIGSEGV for a bad rseq area).
func (t *Task) rseqEnter(r *taskRseq) bool {
	prev := r.slot.Load()
	i, ok := r.cpus.acquire(t, prev)
	if !ok {
		return false
	}
	s := &r.cpus.slots[i]
	preempted := s.last != t
	s.last = t
	if r.forceAbort.Load() {
		r.forceAbort.Store(false)
		preempted = true
	}
	if !preempted && prev == i {
		return true
	}
	if prev != i {
		r.slot.Store(i)
		cpu := rseqCPUNumbers[i]
		if err := t.rseqWriteIDs(r, cpu, cpu, 0, uint32(i)); err != nil {
			r.slot.Store(-1)
			r.cpus.release(i)
			t.rseqFail(r, 0, err)
			return false
		}
	}
	if err := t.rseqFixup(r); err != nil {
		r.cpus.release(i)
		t.rseqFail(r, 0, err)
		return false
	}
	return true
}

// rseqLeave ends t's lease when it stops running application code.
func (t *Task) rseqLeave(r *taskRseq) {
	r.cpus.release(r.slot.Load())
}

// rseqSignal aborts t's critical section before the frame of a handler
// for sig is built, so that the handler returns to the abort handler.
func (t *Task) rseqSignal(r *taskRseq, sig linux.Signal) {
	if err := t.rseqFixup(r); err != nil {
		t.rseqFail(r, sig, err)
	}
}

// rseqFail handles a bad rseq area as Linux does: SIGSEGV, fatal if it
// happened while delivering a SIGSEGV.
func (t *Task) rseqFail(r *taskRseq, delivering linux.Signal, err error) {
	log.Debugf("task %d: rseq area %#x: %v", t.ThreadID(), r.addr, err)
	if delivering == linux.SIGSEGV {
		t.ExitGroup(linux.WaitStatusSignaled(linux.SIGSEGV, true))
		return
	}
	t.forceSignal(&linux.SignalInfo{Signo: int32(linux.SIGSEGV), Code: linux.SI_KERNEL})
}

// rseqWriteIDs stores the CPU fields of t's rseq area.
func (t *Task) rseqWriteIDs(r *taskRseq, cpuStart, cpu, node, mmCID uint32) error {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], cpuStart)
	binary.LittleEndian.PutUint32(b[4:], cpu)
	if _, err := t.mm.CopyOut(r.addr+linux.RseqOffsetCPUIDStart, b[:]); err != nil {
		return linux.EFAULT
	}
	binary.LittleEndian.PutUint32(b[0:], node)
	binary.LittleEndian.PutUint32(b[4:], mmCID)
	if _, err := t.mm.CopyOut(r.addr+linux.RseqOffsetNodeID, b[:]); err != nil {
		return linux.EFAULT
	}
	return nil
}

// rseqFixup is Linux's rseq_ip_fixup for a thread that was preempted or
// is getting a signal: validate the registered critical section, and if
// the IP is inside it move the IP to its abort handler. rseq_cs is
// cleared either way. An error means the area or descriptor is bad.
func (t *Task) rseqFixup(r *taskRseq) error {
	var b [8]byte
	if _, err := t.mm.CopyIn(r.addr+linux.RseqOffsetRseqCS, b[:]); err != nil {
		return linux.EFAULT
	}
	ptr := binary.LittleEndian.Uint64(b[:])
	if ptr == 0 {
		return nil
	}
	taskSize := uint64(t.k.Platform.MaxUserAddress())
	if ptr >= taskSize {
		return linux.EINVAL
	}
	var cb [32]byte
	if _, err := t.mm.CopyIn(uintptr(ptr), cb[:]); err != nil {
		return linux.EFAULT
	}
	var cs linux.RseqCS
	cs.UnmarshalBytes(cb[:])
	end := cs.Start + cs.PostCommitOffset
	if cs.Version != 0 || cs.Start >= taskSize || end >= taskSize || cs.Abort >= taskSize ||
		end < cs.Start || cs.Abort-cs.Start < cs.PostCommitOffset {
		return linux.EINVAL
	}
	// An abort_ip below 4 wraps to an address no mapping covers.
	var sb [4]byte
	if _, err := t.mm.CopyIn(uintptr(cs.Abort-4), sb[:]); err != nil {
		return linux.EFAULT
	}
	if binary.LittleEndian.Uint32(sb[:]) != r.sig {
		return linux.EINVAL
	}
	ip := uint64(t.ac.IP())
	inside := ip-cs.Start < cs.PostCommitOffset
	if inside {
		// Linux 6.0 deprecated the RSEQ_CS_FLAG_NO_RESTART_ON_* flags:
		// any flag, in the descriptor or in struct rseq, is an error.
		if cs.Flags != 0 {
			return linux.EINVAL
		}
		var fb [4]byte
		if _, err := t.mm.CopyIn(r.addr+linux.RseqOffsetFlags, fb[:]); err != nil {
			return linux.EFAULT
		}
		if binary.LittleEndian.Uint32(fb[:]) != 0 {
			return linux.EINVAL
		}
	}
	clear(b[:])
	if _, err := t.mm.CopyOut(r.addr+linux.RseqOffsetRseqCS, b[:]); err != nil {
		return linux.EFAULT
	}
	if inside {
		t.ac.SetIP(uintptr(cs.Abort))
	}
	return nil
}
