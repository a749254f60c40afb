package systrap

import (
	"errors"
	"fmt"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// context implements platform.Context. It holds no host state: any idle
// stub thread of the target address space runs it.
type context struct {
	p *Platform

	// last is the stub thread this context last ran on, a hint for the
	// next Switch. Only Switch (never concurrent for one context) uses it.
	last *thread

	// mu guards interrupted and running; Interrupt kicks running while
	// holding it, so the kick only ever reaches a thread that is (or is
	// about to be) running this context. A late kick that reaches the
	// thread after it moved on to another context is harmless: that
	// context's Switch sees its own interrupted flag clear and resumes.
	mu          sync.Mutex
	interrupted bool
	running     *thread
}

var _ platform.Context = (*context)(nil)

// Interrupt implements platform.Context.Interrupt.
func (c *context) Interrupt() {
	c.mu.Lock()
	c.interrupted = true
	if t := c.running; t != nil {
		tgkill(t.tgid, t.tid, kickSignal)
	}
	c.mu.Unlock()
}

// AnyThread reports that Switch may run on any host thread: the stub
// threads wait on futexes in shared memory, not on their caller, and an
// interrupt targets the stub thread.
func (c *context) AnyThread() bool { return true }

// Release implements platform.Context.Release.
func (c *context) Release() {}

// takeInterrupt consumes a pending Interrupt.
func (c *context) takeInterrupt() bool {
	c.mu.Lock()
	intr := c.interrupted
	c.interrupted = false
	c.mu.Unlock()
	return intr
}

// Switch implements platform.Context.Switch. If ac.FPState is empty, the
// host's initial FP state is used (and stored into it).
func (c *context) Switch(as platform.AddressSpace, ac *arch.Context) (platform.Trap, error) {
	s, ok := as.(*addressSpace)
	if !ok || s.p != c.p {
		return platform.Trap{}, errors.New("systrap: address space of another platform")
	}
	p := c.p
	if len(ac.FPState) == 0 {
		ac.FPState = append([]byte(nil), p.initFP...)
	} else if len(ac.FPState) != p.fpSize {
		return platform.Trap{}, fmt.Errorf("systrap: FP state is %d bytes, want %d: %w", len(ac.FPState), p.fpSize, linux.EINVAL)
	}
	if ac.Regs.FsBase >= maxUserBase || ac.Regs.GsBase >= maxUserBase {
		return platform.Trap{}, fmt.Errorf("systrap: fs_base %#x gs_base %#x: %w", ac.Regs.FsBase, ac.Regs.GsBase, linux.EINVAL)
	}

	t, err := s.get(c.last)
	if err != nil {
		return platform.Trap{}, dead(err)
	}
	c.last = t

	c.mu.Lock()
	if c.interrupted {
		c.interrupted = false
		c.mu.Unlock()
		s.put(t, true)
		return platform.Trap{}, platform.ErrInterrupted
	}
	c.running = t
	c.mu.Unlock()

	trap, err := c.run(t, ac)

	c.mu.Lock()
	c.running = nil
	c.mu.Unlock()
	s.put(t, err == nil || err == platform.ErrInterrupted)
	if err != nil && err != platform.ErrInterrupted {
		c.last = nil
	}
	return trap, err
}

// dead marks a host failure of the stub as the loss of the application
// thread.
func dead(err error) error {
	if errors.Is(err, platform.ErrContextDead) {
		return err
	}
	return fmt.Errorf("%w: %v", platform.ErrContextDead, err)
}

// run loads ac into t, runs it until it traps, and saves it back.
func (c *context) run(t *thread, ac *arch.Context) (platform.Trap, error) {
	p := c.p
	sl := t.slot
	sl.loadRegs(&ac.Regs)
	p.fp.toFrame(sl.bytes(offFP, uintptr(p.fpSize)), ac.FPState)
	for {
		sl.publish(cmdRun)
		if err := sl.wait(p.sentrySpin, t.alive); err != nil {
			t.as.kill()
			return platform.Trap{}, dead(err)
		}
		switch k := *sl.u32(offKind); k {
		case kindSyscall:
			c.save(sl, ac)
			ac.Regs.OrigRax = ac.Regs.Rax
			return platform.Trap{Kind: platform.TrapSyscall, Patched: true}, nil
		case kindTrap:
		default:
			// Only the application, writing its own slot, can cause
			// this; its state is lost.
			t.as.kill()
			return platform.Trap{}, dead(fmt.Errorf("stub thread %d reported kind %d", t.tid, k))
		}
		info := sl.siginfo()
		if c.fastFallback(sl, &info) {
			// A patched system call that could not use fastEntry:
			// the trampoline left the number in rax and the return
			// address in rcx, as syscall would.
			c.save(sl, ac)
			ac.Regs.Rip = ac.Regs.Rcx
			ac.Regs.R11 = ac.Regs.Eflags
			ac.Regs.OrigRax = ac.Regs.Rax
			return platform.Trap{Kind: platform.TrapSyscall, Patched: true}, nil
		}
		trap, ok := c.classify(sl, &info)
		if !ok {
			// Sent from outside, or a kick: ours if Interrupt was
			// called, else stale (meant for an earlier context).
			if c.takeInterrupt() {
				c.save(sl, ac)
				return platform.Trap{}, platform.ErrInterrupted
			}
			continue
		}
		c.save(sl, ac)
		if trap.Kind == platform.TrapSyscall {
			// The kernel rolled rax back to the number.
			ac.Regs.OrigRax = ac.Regs.Rax
		}
		return trap, nil
	}
}

// save copies the state the handler saved into ac.
func (c *context) save(sl *slot, ac *arch.Context) {
	sl.saveRegs(&ac.Regs, c.p.flags&flagFSGSBase != 0)
	c.p.fp.fromFrame(ac.FPState, sl.bytes(offFP, uintptr(c.p.fpSize)))
}

// x86 page-fault error code bits (the sigcontext's err for trapno 14).
const (
	pfWrite    = 1 << 1
	pfInstr    = 1 << 4
	trapnoPF   = 14
	siKernel   = 0x80
	sysSeccomp = linux.SYS_SECCOMP
)

// fastFallback reports whether the trap is fastEntry's way of saying the
// thread's gs base is not its slot: a fault at the magic-word check, or
// the ud2 at fallback.
func (c *context) fastFallback(sl *slot, info *linux.SignalInfo) bool {
	if info.Code <= 0 {
		return false
	}
	rip := uintptr(sl.greg(gRIP))
	switch linux.Signal(info.Signo) {
	case linux.SIGSEGV, linux.SIGBUS:
		return rip == c.p.page.fastEntry
	case linux.SIGILL:
		return rip == c.p.page.fallback
	}
	return false
}

// classify turns the signal the handler reported into a trap, or reports
// false for a signal the thread did not raise itself (a kick, or one sent
// from outside): the host never delivers signals to the application.
func (c *context) classify(sl *slot, info *linux.SignalInfo) (platform.Trap, bool) {
	sig := linux.Signal(info.Signo)
	if info.Code <= 0 || sig == linux.Signal(kickSignal) {
		return platform.Trap{}, false
	}
	switch {
	case sig == linux.SIGSYS && info.Code == sysSeccomp:
		return platform.Trap{Kind: platform.TrapSyscall}, true
	case sig == linux.SIGSEGV && (info.Code == linux.SEGV_MAPERR || info.Code == linux.SEGV_ACCERR),
		sig == linux.SIGBUS && info.Code == linux.BUS_ADRERR:
		t := platform.Trap{Kind: platform.TrapFault, Addr: uintptr(le.Uint64(info.Fields[0:])), Info: *info}
		if sl.greg(gTRAPNO) == trapnoPF {
			err := sl.greg(gERR)
			switch {
			case err&pfInstr != 0:
				t.Access = platform.AccessType{Execute: true}
			case err&pfWrite != 0:
				t.Access = platform.AccessType{Write: true}
			default:
				t.Access = platform.Read
			}
		}
		return t, true
	case sig == linux.SIGSEGV, sig == linux.SIGBUS, sig == linux.SIGILL, sig == linux.SIGFPE,
		sig == linux.SIGTRAP, sig == linux.SIGSYS:
		return platform.Trap{Kind: platform.TrapSignal, Info: *info}, true
	}
	return platform.Trap{}, false
}
