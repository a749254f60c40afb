// Package ptrace is the ptrace platform: application code runs in stub
// processes (package stub), one per address space, and every system call,
// fault and signal of an application thread stops the stub thread running
// it under PTRACE_SYSEMU and wakes the Sentry thread tracing it.
//
// # Processes and threads
//
// New execs a pristine stub from a dedicated, permanently locked OS thread
// (the "parent thread"), lets its start-up code empty the application range,
// and detaches it, parked in an idle loop. NewAddressSpace seizes the
// pristine stub and injects clone(CLONE_PARENT): the new process is another
// child of the parent thread, dies with it (PR_SET_PDEATHSIG) and is reaped
// by the Sentry. Its first thread (the "leader") is also parked untraced.
//
// ptrace is per thread: only the OS thread that attached a tracee may
// operate on it. So an address space holds one traced stub thread per
// Sentry OS thread that has used it, created on first use by seizing the
// leader, injecting clone(CLONE_THREAD), and inheriting the new thread
// through PTRACE_O_TRACECLONE. A Context is only register state, so any stub
// thread of an address space can run any of its application threads.
// At run time the Sentry needs only the calls in RuntimeSyscalls.
//
// # Threading contract
//
// Switch, MapFile and Unmap lock the calling goroutine to its OS thread for
// their duration (runtime.LockOSThread, nested with any lock the caller
// holds). A caller that keeps its goroutine locked across Switch calls (as
// task goroutines should) always reuses the same stub thread and avoids
// creating one per OS thread it happens to run on. A goroutine must never
// exit while locked after using the platform: Go then kills its OS thread,
// and every stub thread traced by it is killed too (PTRACE_O_EXITKILL),
// taking its address space down with it.
//
// # CPU placement
//
// A ptrace stop costs a few microseconds when tracer and tracee share a CPU
// and around a hundred when the tracee must wake an idle vCPU. Switch pins
// each stub thread to the CPU its tracer is on (getcpu per Switch,
// sched_setaffinity when it changed).
//
// # Faults
//
// ptrace does not expose the x86 page-fault error code, so a TrapFault's
// Access is platform.NoAccess (unknown) unless the fault is certainly an
// instruction fetch (si_addr is the PC and the page is unmapped), in which
// case Execute is set. The memory manager must infer the access otherwise.
//
// # Signals
//
// Stub threads block every signal, and the host never delivers one to
// the application: a signal the thread raised itself (si_code > 0: SIGSEGV,
// SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) becomes a trap, anything else
// (sent from outside, asynchronous) is discarded at its signal-delivery
// stop. Interrupt uses SIGSTOP, which the tracer always swallows.
//
// # Caveats
//
// Nothing else in the Sentry may call wait4 or waitid for any child (-1)
// or for a stub's pid: Linux reports a tracee's stops to every thread of the
// tracer's thread group, so such a call would steal them.
//
// The host's vsyscall page (if the host enables it) stays mapped above
// TASK_SIZE, and a call into it is emulated by the host without a ptrace
// stop: an application can read the host's time and CPU number that way.
package ptrace

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// Platform implements platform.Platform with ptrace.
type Platform struct {
	memFD int

	// Fixed by New.
	fpSize   int
	initFP   []byte           // FP state of a fresh stub: used when a context has none yet
	stubRegs linux.PtraceRegs // a stub thread's registers, the base for injected calls
	pinning  bool             // pin stub threads to their tracer's CPU; only tests clear it
	pristine int32            // pid of the pristine stub
	parentUp chan struct{}    // closed by Release: the parent thread may exit

	// pristineMu serializes borrowing the pristine stub.
	pristineMu sync.Mutex

	// mu guards spaces and released.
	mu       sync.Mutex
	spaces   map[*addressSpace]struct{}
	released bool
}

var _ platform.Platform = (*Platform)(nil)

// New creates the platform and its pristine stub. memFD is the sandbox
// memory file; the caller keeps ownership of it, and it must stay open
// while the platform lives. New forks and execs (see stub.Exec), so it
// must run before the Sentry's seccomp filter is installed.
func New(memFD int) (*Platform, error) {
	var st unix.Stat_t
	if err := unix.Fstat(memFD, &st); err != nil {
		return nil, fmt.Errorf("ptrace: memory file: %w", err)
	}
	p := &Platform{
		memFD:    memFD,
		pinning:  true,
		parentUp: make(chan struct{}),
		spaces:   map[*addressSpace]struct{}{},
	}
	errc := make(chan error)
	go p.parentThread(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return p, nil
}

// parentThread is the OS thread that is the parent of every stub process
// (see stub.Exec for why it must outlive them). It stays locked until
// Release has killed them all.
func (p *Platform) parentThread(errc chan<- error) {
	runtime.LockOSThread()
	err := p.startPristine()
	errc <- err
	if err == nil {
		<-p.parentUp
	}
	runtime.UnlockOSThread()
}

// startPristine execs the pristine stub, runs its start-up code, records
// what New learns from it, and parks it.
func (p *Platform) startPristine() error {
	pid, err := stub.Exec(p.memFD)
	if err != nil {
		return fmt.Errorf("ptrace: %w", err)
	}
	tid := int32(pid)
	ok := false
	defer func() {
		if !ok {
			unix.Kill(pid, unix.SIGKILL)
			reap(tid)
		}
	}()
	// The stop after execve.
	if _, err := waitStop(tid); err != nil {
		return err
	}
	if err := ptrace(unix.PTRACE_CONT, tid, 0, 0); err != nil {
		return errStub("PTRACE_CONT", tid, err)
	}
	st, err := waitStop(tid)
	if err != nil {
		return err
	}
	var regs linux.PtraceRegs
	if err := getRegs(tid, &regs); err != nil {
		return errStub("get registers", tid, err)
	}
	if st.StopSignal() != unix.SIGTRAP || regsPC(&regs) != stub.Layout().InitTrap {
		return errStub("start-up", tid, fmt.Errorf("stopped by signal %d at %#x", st.StopSignal(), regsPC(&regs)))
	}
	for i, r := range stub.InitResults(&regs) {
		if err := errnoOf(r); err != nil {
			return errStub("start-up", tid, fmt.Errorf("call %d failed: %w", i, err))
		}
	}
	// The FP state's size depends on the features the host enabled.
	n, err := fpSize(tid)
	if err != nil {
		return errStub("get FP registers", tid, err)
	}
	p.fpSize = n
	p.initFP = make([]byte, n)
	if err := getFP(tid, p.initFP); err != nil {
		return errStub("get FP registers", tid, err)
	}
	p.stubRegs = regs
	if err := park(tid, &regs); err != nil {
		return err
	}
	p.pristine = tid
	ok = true
	return nil
}

// Name implements platform.Platform.
func (*Platform) Name() string { return "ptrace" }

// MaxUserAddress implements platform.Platform.
func (*Platform) MaxUserAddress() uintptr { return stub.MaxUserAddress }

// FPStateSize implements platform.Platform.
func (p *Platform) FPStateSize() int { return p.fpSize }

// NewContext implements platform.Platform.
func (p *Platform) NewContext() (platform.Context, error) { return &context{p: p}, nil }

// NewAddressSpace implements platform.Platform. It clones a process from
// the pristine stub.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	p.mu.Lock()
	released := p.released
	p.mu.Unlock()
	if released {
		return nil, errors.New("ptrace: platform released")
	}
	pid, err := p.cloneProcess()
	if err != nil {
		return nil, err
	}
	s := &addressSpace{p: p, pid: pid, threads: map[int32]*thread{}}
	p.mu.Lock()
	if p.released {
		p.mu.Unlock()
		s.Release()
		return nil, errors.New("ptrace: platform released")
	}
	p.spaces[s] = struct{}{}
	p.mu.Unlock()
	return s, nil
}

// cloneProcess injects clone(CLONE_PARENT) into the pristine stub, lets the
// child run its start-up checks, and parks it. It returns the child's pid.
func (p *Platform) cloneProcess() (int32, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p.pristineMu.Lock()
	defer p.pristineMu.Unlock()

	// EXITKILL: if this thread died with the pristine stub attached, the
	// stub would be left in an unknown state.
	if err := seize(p.pristine, unix.PTRACE_O_TRACEFORK|unix.PTRACE_O_EXITKILL); err != nil {
		return 0, err
	}
	regs := p.stubRegs
	syscallRegs(&regs, stub.Layout().ProcessClone, unix.SYS_CLONE, unix.CLONE_PARENT|uintptr(unix.SIGCHLD))
	stub.SetParent(&regs, unix.Getpid())
	ret, msg, err := inject(p.pristine, &regs, stub.Layout().ProcessCloneTrap, unix.PTRACE_EVENT_FORK)
	if perr := park(p.pristine, &p.stubRegs); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return 0, err
	}
	if e := errnoOf(ret); e != nil {
		return 0, fmt.Errorf("ptrace: clone in pristine stub: %w", e)
	}
	child := int32(msg)
	if child == 0 || int32(ret) != child {
		return 0, fmt.Errorf("ptrace: clone returned %d, fork event said %d", int32(ret), child)
	}
	// The child was attached through PTRACE_O_TRACEFORK and starts in a
	// stop. Let it set PR_SET_PDEATHSIG and check its parent.
	kill := func(err error) (int32, error) {
		unix.Kill(int(child), unix.SIGKILL)
		reap(child)
		return 0, err
	}
	if _, err := waitStop(child); err != nil {
		return kill(err)
	}
	if _, _, err := runToTrap(child, stub.Layout().ProcessChildTrap, 0); err != nil {
		return kill(err)
	}
	if err := park(child, &p.stubRegs); err != nil {
		return kill(err)
	}
	return child, nil
}

// reap waits until pid (a stub process or thread that was sent SIGKILL) is
// gone. A traced stub is waited for twice: once as a tracee, once more as
// the parent thread's child.
func reap(pid int32) {
	for {
		if _, err := wait4(pid); err != nil {
			return
		}
	}
}

// Release implements platform.Platform: it kills and reaps every stub
// process. Address spaces and contexts must not be used afterwards.
func (p *Platform) Release() {
	p.mu.Lock()
	if p.released {
		p.mu.Unlock()
		return
	}
	p.released = true
	spaces := p.spaces
	p.spaces = nil
	p.mu.Unlock()
	for s := range spaces {
		s.Release()
	}
	p.pristineMu.Lock()
	unix.Kill(int(p.pristine), unix.SIGKILL)
	reap(p.pristine)
	p.pristineMu.Unlock()
	close(p.parentUp)
}
