package ptrace

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"golang.org/x/sys/unix"
)

// context implements platform.Context. It holds no host state: whichever
// stub thread the calling OS thread traces in the target address space
// runs it.
type context struct {
	p *Platform

	// mu guards interrupted and running; Interrupt signals running while
	// holding it, so a signal is only ever sent to a thread that is (or
	// is about to be) running this context.
	mu sync.Mutex
	// interrupted is set by Interrupt and cleared by the Switch that
	// returns ErrInterrupted. It, not the signal, is what counts: the
	// signal only makes a running Switch look at it.
	interrupted bool
	// running is the stub thread running this context, nil outside
	// Switch.
	running *thread
}

var _ platform.Context = (*context)(nil)

// interruptSignal kicks a stub thread out of application code. SIGSTOP
// cannot be blocked (stub threads block everything else), and a traced
// thread reports it to its tracer, which discards it, before any
// group-stop could begin.
const interruptSignal = unix.SIGSTOP

// Interrupt implements platform.Context.Interrupt.
func (c *context) Interrupt() {
	c.mu.Lock()
	c.interrupted = true
	if t := c.running; t != nil {
		tgkill(t.tgid, t.tid, interruptSignal)
	}
	c.mu.Unlock()
}

// Release implements platform.Context.Release.
func (c *context) Release() {}

// Switch implements platform.Context.Switch. If ac.FPState is empty, the
// host's initial FP state is used (and stored into it). If Interrupt is
// called while the thread runs but the thread traps first, the trap is
// returned and the next Switch returns ErrInterrupted at once.
func (c *context) Switch(as platform.AddressSpace, ac *arch.Context) (platform.Trap, error) {
	s, ok := as.(*addressSpace)
	if !ok || s.p != c.p {
		return platform.Trap{}, errors.New("ptrace: address space of another platform")
	}
	p := c.p
	if len(ac.FPState) == 0 {
		ac.FPState = append([]byte(nil), p.initFP...)
	} else if len(ac.FPState) != p.fpSize {
		return platform.Trap{}, fmt.Errorf("ptrace: FP state is %d bytes, want %d: %w", len(ac.FPState), p.fpSize, linux.EINVAL)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tracer := gettid()
	t, err := s.threadFor(tracer)
	if err != nil {
		return platform.Trap{}, dead(err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.pinning {
		p.pin(t)
	}

	c.mu.Lock()
	if c.interrupted {
		c.interrupted = false
		c.mu.Unlock()
		return platform.Trap{}, platform.ErrInterrupted
	}
	c.running = t
	c.mu.Unlock()

	trap, err := c.run(t, ac)

	c.mu.Lock()
	c.running = nil
	c.mu.Unlock()
	if errors.Is(err, platform.ErrContextDead) {
		s.forget(tracer, t)
	}
	return trap, err
}

// dead marks a host failure of the stub thread as the loss of the
// application thread.
func dead(err error) error {
	if errors.Is(err, platform.ErrContextDead) {
		return err
	}
	return fmt.Errorf("%w: %v", platform.ErrContextDead, err)
}

// run loads ac into t, runs it until it traps, and saves it back.
func (c *context) run(t *thread, ac *arch.Context) (platform.Trap, error) {
	p := c.p
	var regs linux.PtraceRegs
	appRegs(&regs, &ac.Regs, &p.stubRegs)
	if err := setRegs(t.tid, &regs); err != nil {
		if err == unix.ESRCH {
			return platform.Trap{}, dead(err)
		}
		return platform.Trap{}, fmt.Errorf("ptrace: invalid registers: %w", err)
	}
	if !bytes.Equal(t.fp, ac.FPState) {
		t.fp = t.fp[:0]
		if err := setFP(t.tid, ac.FPState); err != nil {
			if err == unix.ESRCH {
				return platform.Trap{}, dead(err)
			}
			return platform.Trap{}, fmt.Errorf("ptrace: invalid FP state: %w", err)
		}
		t.fp = append(t.fp, ac.FPState...)
	}

	for {
		if err := ptrace(unix.PTRACE_SYSEMU, t.tid, 0, 0); err != nil {
			return platform.Trap{}, dead(errStub("PTRACE_SYSEMU", t.tid, err))
		}
		st, err := waitStop(t.tid)
		if err != nil {
			return platform.Trap{}, dead(err)
		}
		switch sig := st.StopSignal(); {
		case sig == sysemuStop:
			if err := c.save(t, ac); err != nil {
				return platform.Trap{}, err
			}
			atSyscallStop(&ac.Regs)
			return platform.Trap{Kind: platform.TrapSyscall}, nil

		case sig == interruptSignal:
			// Ours, a stale one meant for a context that ran here
			// before, or a group-stop someone else started.
			c.mu.Lock()
			intr := c.interrupted
			c.interrupted = false
			c.mu.Unlock()
			if intr {
				if err := c.save(t, ac); err != nil {
					return platform.Trap{}, err
				}
				return platform.Trap{}, platform.ErrInterrupted
			}

		case eventOf(st) != 0:
			// Event stops (PTRACE_EVENT_STOP) carry nothing for us.

		default:
			var raw [linux.SizeofSignalInfo]byte
			if err := getSiginfo(t.tid, &raw); err != nil {
				return platform.Trap{}, dead(errStub("PTRACE_GETSIGINFO", t.tid, err))
			}
			var info linux.SignalInfo
			info.UnmarshalBytes(raw[:])
			var r linux.PtraceRegs
			if err := getRegs(t.tid, &r); err != nil {
				return platform.Trap{}, dead(errStub("get registers", t.tid, err))
			}
			trap, ok := classify(&info, regsPC(&r))
			if !ok {
				continue
			}
			if err := c.save(t, ac); err != nil {
				return platform.Trap{}, err
			}
			return trap, nil
		}
	}
}

// save copies t's registers into ac.
func (c *context) save(t *thread, ac *arch.Context) error {
	if err := getRegs(t.tid, &ac.Regs); err != nil {
		return dead(errStub("get registers", t.tid, err))
	}
	if err := getFP(t.tid, ac.FPState); err != nil {
		t.fp = t.fp[:0]
		return dead(errStub("get FP registers", t.tid, err))
	}
	t.fp = append(t.fp[:0], ac.FPState...)
	return nil
}
