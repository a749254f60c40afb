package kernel

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/mm"
)

// The tracer's side of ptrace(2): attaching, and the requests on a
// stopped tracee.

// Ptrace implements ptrace(2) for the calling task t: request req on the
// thread pid (in t's namespace) with the raw addr and data arguments.
func (t *Task) Ptrace(req int64, pid ThreadID, addr, data uintptr) (uintptr, error) {
	if req == linux.PTRACE_TRACEME {
		return 0, t.ptraceTraceme()
	}
	k := t.k
	k.tasksMu.RLock()
	target := t.tg.pidns.tasks[pid]
	k.tasksMu.RUnlock()
	if target == nil {
		return 0, linux.ESRCH
	}
	switch req {
	case linux.PTRACE_ATTACH:
		return 0, t.ptraceAttach(target, false, 0)
	case linux.PTRACE_SEIZE:
		if addr != 0 {
			return 0, linux.EIO
		}
		if uint64(data)&^uint64(linux.PTRACE_O_MASK) != 0 {
			return 0, linux.EIO
		}
		return 0, t.ptraceAttach(target, true, uint32(data))
	}

	// Memory requests copy to or from the tracer without holding tasksMu.
	switch req {
	case linux.PTRACE_PEEKTEXT, linux.PTRACE_PEEKDATA, linux.PTRACE_POKETEXT, linux.PTRACE_POKEDATA:
		m, err := t.ptraceTraceeMM(target)
		if err != nil {
			return 0, err
		}
		defer m.DecUsers()
		var w [8]byte
		if req == linux.PTRACE_POKETEXT || req == linux.PTRACE_POKEDATA {
			binary.LittleEndian.PutUint64(w[:], uint64(data))
			if n, _ := m.ForceIO(addr, w[:], true); n != len(w) {
				return 0, linux.EIO
			}
			return 0, nil
		}
		if n, _ := m.ForceIO(addr, w[:], false); n != len(w) {
			return 0, linux.EIO
		}
		return 0, t.copyOutAll(data, w[:])
	}

	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	p := &target.ptrace
	if p.tracer != t {
		return 0, linux.ESRCH
	}
	switch req {
	case linux.PTRACE_KILL:
		target.tg.signalMu.Lock()
		target.tg.killLocked(linux.WaitStatusSignaled(linux.SIGKILL, false))
		target.tg.signalMu.Unlock()
		if p.stop != ptraceRunning {
			target.ptraceResumeLocked(resumeCont, 0)
		}
		return 0, nil
	case linux.PTRACE_INTERRUPT:
		if !p.seized {
			return 0, linux.EIO
		}
		target.ptraceFlags.Or(ptraceInterrupt)
		target.interrupt()
		return 0, nil
	case linux.PTRACE_LISTEN:
		if !p.seized {
			return 0, linux.EIO
		}
		if p.stop != ptraceGroupStop || p.stopEvent != linux.PTRACE_EVENT_STOP {
			if p.stop == ptraceRunning {
				return 0, linux.ESRCH
			}
			return 0, linux.EIO
		}
		target.ptraceResumeLocked(resumeListen, 0)
		return 0, nil
	}
	if p.stop == ptraceRunning {
		return 0, linux.ESRCH
	}
	return t.ptraceStoppedRequestLocked(target, req, addr, data)
}

// ptraceStoppedRequestLocked runs a request that needs target stopped.
// Requires tasksMu held for writing, t target's tracer and target in a
// ptrace-stop.
func (t *Task) ptraceStoppedRequestLocked(target *Task, req int64, addr, data uintptr) (uintptr, error) {
	p := &target.ptrace
	ac := target.ac
	switch req {
	case linux.PTRACE_CONT, linux.PTRACE_SYSCALL, linux.PTRACE_SINGLESTEP, linux.PTRACE_DETACH:
		sig := linux.Signal(data)
		if sig != 0 && !sig.IsValid() {
			return 0, linux.EIO
		}
		switch req {
		case linux.PTRACE_CONT:
			target.ptraceResumeLocked(resumeCont, sig)
		case linux.PTRACE_SYSCALL:
			target.ptraceResumeLocked(resumeSyscall, sig)
		case linux.PTRACE_SINGLESTEP:
			if !arch.SingleStepSupported {
				return 0, linux.EIO
			}
			target.ptraceResumeLocked(resumeStep, sig)
		case linux.PTRACE_DETACH:
			t.ptraceDetachLocked(target, sig)
		}
		return 0, nil
	case linux.PTRACE_PEEKUSR:
		v, err := ac.PeekUser(addr)
		if err != nil {
			return 0, err
		}
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], v)
		return 0, t.copyOutAll(data, w[:])
	case linux.PTRACE_POKEUSR:
		return 0, ac.PokeUser(addr, uint64(data))
	case linux.PTRACE_GETSIGINFO:
		if p.siginfo == nil {
			return 0, linux.EINVAL
		}
		b := make([]byte, linux.SizeofSignalInfo)
		p.siginfo.MarshalBytes(b)
		return 0, t.copyOutAll(data, b)
	case linux.PTRACE_SETSIGINFO:
		b := make([]byte, linux.SizeofSignalInfo)
		if err := t.copyInAll(data, b); err != nil {
			return 0, err
		}
		if p.siginfo == nil {
			return 0, linux.EINVAL
		}
		var info linux.SignalInfo
		info.UnmarshalBytes(b)
		p.siginfo = &info
		return 0, nil
	case linux.PTRACE_GETEVENTMSG:
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], p.eventMsg)
		return 0, t.copyOutAll(data, w[:])
	case linux.PTRACE_SETOPTIONS:
		if uint64(data)&^uint64(linux.PTRACE_O_MASK) != 0 {
			return 0, linux.EINVAL
		}
		p.options = uint32(data)
		return 0, nil
	case linux.PTRACE_GETREGSET:
		return 0, t.ptraceGetRegset(ac, int(addr), data)
	case linux.PTRACE_SETREGSET:
		return 0, t.ptraceSetRegset(ac, int(addr), data)
	case linux.PTRACE_GET_SYSCALL_INFO:
		return t.ptraceSyscallInfoLocked(target, addr, data)
	}
	return t.ptraceArchRequestLocked(target, req, addr, data)
}

// ptraceGetRegset implements PTRACE_GETREGSET: iovAddr points to a
// struct iovec whose length is updated to what was written.
func (t *Task) ptraceGetRegset(ac *arch.Context, note int, iovAddr uintptr) error {
	var iov [16]byte
	if err := t.copyInAll(iovAddr, iov[:]); err != nil {
		return err
	}
	base, n := uintptr(binary.LittleEndian.Uint64(iov[:])), binary.LittleEndian.Uint64(iov[8:])
	b, err := ac.PtraceRegset(note)
	if err != nil {
		return err
	}
	if uint64(len(b)) > n {
		b = b[:n]
	}
	if err := t.copyOutAll(base, b); err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(iov[8:], uint64(len(b)))
	return t.copyOutAll(iovAddr+8, iov[8:])
}

// ptraceSetRegset implements PTRACE_SETREGSET.
func (t *Task) ptraceSetRegset(ac *arch.Context, note int, iovAddr uintptr) error {
	var iov [16]byte
	if err := t.copyInAll(iovAddr, iov[:]); err != nil {
		return err
	}
	base, n := uintptr(binary.LittleEndian.Uint64(iov[:])), binary.LittleEndian.Uint64(iov[8:])
	cur, err := ac.PtraceRegset(note)
	if err != nil {
		return err
	}
	if n > uint64(len(cur)) {
		n = uint64(len(cur))
	}
	b := make([]byte, n)
	if err := t.copyInAll(base, b); err != nil {
		return err
	}
	if note != linux.NT_X86_XSTATE || arch.SizeofUser == 0 {
		// A short write changes only the leading part of the set.
		copy(cur, b)
		b = cur
	}
	return ac.SetPtraceRegset(note, b)
}

// PTRACE_SYSCALL_INFO_* ops.
const (
	syscallInfoNone    = 0
	syscallInfoEntry   = 1
	syscallInfoExit    = 2
	syscallInfoSeccomp = 3
)

// ptraceSyscallInfoLocked implements PTRACE_GET_SYSCALL_INFO: it writes
// up to size bytes of struct ptrace_syscall_info at addr and returns the
// full size of the information available.
func (t *Task) ptraceSyscallInfoLocked(target *Task, size, addr uintptr) (uintptr, error) {
	p := &target.ptrace
	ac := target.ac
	b := make([]byte, 88)
	le := binary.LittleEndian
	op := byte(syscallInfoNone)
	switch {
	case p.stop == ptraceSyscallEntryStop:
		op = syscallInfoEntry
	case p.stop == ptraceSyscallExitStop:
		op = syscallInfoExit
	case p.stop == ptraceEventStop && p.seccompStop:
		op = syscallInfoSeccomp
	}
	b[0] = op
	le.PutUint32(b[4:], arch.AuditArch)
	le.PutUint64(b[8:], uint64(ac.IP()))
	le.PutUint64(b[16:], uint64(ac.Stack()))
	n := 24
	switch op {
	case syscallInfoEntry, syscallInfoSeccomp:
		le.PutUint64(b[24:], uint64(ac.SyscallNo()))
		for i, a := range ac.SyscallArgs() {
			le.PutUint64(b[32+8*i:], uint64(a.Value))
		}
		n = 80
		if op == syscallInfoSeccomp {
			le.PutUint32(b[80:], uint32(p.eventMsg))
			n = 84
		}
	case syscallInfoExit:
		rval := int64(ac.Return())
		le.PutUint64(b[24:], uint64(rval))
		if rval < 0 && rval >= -4095 {
			b[32] = 1
		}
		n = 33
	}
	copied := min(int(size), n)
	if err := t.copyOutAll(addr, b[:copied]); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// ptraceTraceeMM returns target's address space with a user reference,
// if t traces target and target is stopped.
func (t *Task) ptraceTraceeMM(target *Task) (*mm.MemoryManager, error) {
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	if target.ptrace.tracer != t || target.ptrace.stop == ptraceRunning {
		return nil, linux.ESRCH
	}
	m := target.ProcMemoryManager()
	if m == nil {
		return nil, linux.ESRCH
	}
	return m, nil
}

// copyOutAll copies b to t's memory at addr, EFAULT unless all of it.
func (t *Task) copyOutAll(addr uintptr, b []byte) error {
	if n, err := t.mm.CopyOut(addr, b); n != len(b) {
		if err == nil {
			err = linux.EFAULT
		}
		return err
	}
	return nil
}

// copyInAll copies len(b) bytes from t's memory at addr into b.
func (t *Task) copyInAll(addr uintptr, b []byte) error {
	if n, err := t.mm.CopyIn(addr, b); n != len(b) {
		if err == nil {
			err = linux.EFAULT
		}
		return err
	}
	return nil
}
