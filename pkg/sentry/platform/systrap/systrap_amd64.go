package systrap

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/hostcpu"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// How long each side spins before it sleeps. Waking a sleeping thread on
// an idle vCPU costs ~100 us on the VMs we measured, a spin round trip
// ~0.2 us: spinning a few tens of microseconds covers a fast system call
// (Sentry side) or a short burst of application code (stub side).
const (
	sentrySpinTime = 30 * time.Microsecond
	stubSpinTime   = 30 * time.Microsecond
)

// Platform implements platform.Platform with seccomp traps.
type Platform struct {
	memFD int

	// Fixed by New.
	page       page
	slots      slotFile
	fp         fpLayout
	initFP     []byte // FP state of a fresh thread
	fpSize     int
	flags      uint32 // flag* for every slot
	stubSpin   uint32 // pause iterations, stub side
	sentrySpin int    // pause iterations, Sentry side
	parentUp   chan struct{}
	pristine   *thread // the process every address space is cloned from
	// syncCoreErr is why SyncCore cannot work, if it cannot: the
	// pristine stub's membarrier registration failed.
	syncCoreErr error

	// pristineMu serializes commands to the pristine stub.
	pristineMu sync.Mutex

	// mu guards spaces and released.
	mu       sync.Mutex
	spaces   map[*addressSpace]struct{}
	released bool
}

var _ platform.Platform = (*Platform)(nil)

// New creates the platform and its pristine stub. memFD is the sandbox
// memory file; the caller keeps ownership of it, and it must stay open
// while the platform lives. New forks, execs and uses ptrace and /proc
// (see stub.Exec), so it must run before the Sentry's seccomp filter is
// installed; afterwards the platform needs only RuntimeSyscalls.
func New(memFD int) (platform.Platform, error) {
	var st unix.Stat_t
	if err := unix.Fstat(memFD, &st); err != nil {
		return nil, fmt.Errorf("systrap: memory file: %w", err)
	}
	p := &Platform{
		memFD:    memFD,
		page:     buildPage(),
		parentUp: make(chan struct{}),
		spaces:   map[*addressSpace]struct{}{},
	}
	p.slots.fd = -1
	p.calibrate()
	if hasFSGSBase() {
		p.flags |= flagFSGSBase
	}
	if hostcpu.HasTSCAux() {
		p.flags |= flagCPU
	}
	errc := make(chan error)
	go p.parentThread(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return p, nil
}

const (
	atHWCAP2       = 26 // AT_HWCAP2
	hwcap2FSGSBase = 1 << 1
)

// hasFSGSBase reports whether the kernel lets user code use
// rd/wr{fs,gs}base (AT_HWCAP2 bit HWCAP2_FSGSBASE).
func hasFSGSBase() bool {
	auxv, err := unix.Auxv()
	if err != nil {
		return false
	}
	for _, kv := range auxv {
		if kv[0] == atHWCAP2 {
			return kv[1]&hwcap2FSGSBase != 0
		}
	}
	return false
}

// calibrate converts the spin times into PAUSE iterations, whose cost
// varies tenfold between CPU generations.
func (p *Platform) calibrate() {
	const n = 20000
	start := time.Now()
	for i := 0; i < n; i++ {
		pause()
	}
	per := time.Since(start) / n
	if per <= 0 {
		per = time.Nanosecond
	}
	p.sentrySpin = int(sentrySpinTime / per)
	p.stubSpin = uint32(stubSpinTime / per)
	if p.stubSpin == 0 {
		p.stubSpin = 1
	}
}

// parentThread is the OS thread that is the parent of every stub process:
// Linux sends PR_SET_PDEATHSIG when the parent thread exits, so it stays
// locked (alive) until Release has killed them all.
func (p *Platform) parentThread(errc chan<- error) {
	runtime.LockOSThread()
	err := p.startPristine()
	errc <- err
	if err == nil {
		<-p.parentUp
	}
	runtime.UnlockOSThread()
}

// startPristine execs the stub, turns it into a systrap stub (see
// setup_amd64.go) and waits for it to report ready.
func (p *Platform) startPristine() (err error) {
	pid, err := stub.Exec(p.memFD)
	if err != nil {
		return fmt.Errorf("systrap: %w", err)
	}
	t := &tracee{pid: pid}
	var s0 *slot
	defer func() {
		if err != nil {
			reap(int32(pid))
			if s0 != nil {
				p.slots.release(s0)
			}
			p.closeSlots()
		}
	}()
	if err := t.start(); err != nil {
		return err
	}
	// Registering for membarrier's SYNC_CORE is cheap only while the
	// process has one thread; with more, the kernel waits for an RCU grace
	// period (10-20 ms here). Clones of the pristine stub inherit it.
	if ret, err := t.syscall(unix.SYS_MEMBARRIER, linux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0); err != nil {
		return err
	} else if err := errnoOf(ret); err != nil {
		p.syncCoreErr = fmt.Errorf("systrap: membarrier registration: %w", err)
	}
	fd, err := t.installCode(&p.page)
	if err != nil {
		return err
	}
	if err := p.openSlots(pid, fd); err != nil {
		return err
	}
	if s0, err = p.slots.alloc(); err != nil {
		return fmt.Errorf("systrap: %w", err)
	}
	// The handler copies this many bytes of FP state; it is checked
	// against what the kernel's frame says below.
	p.fpSize = arch.HostXSaveSize()
	s0.init(p)
	if err := t.arm(&p.page, uint64(s0.off())); err != nil {
		return err
	}
	th := &thread{tgid: int32(pid), tid: int32(pid), slot: s0}
	if err := p.waitReady(th); err != nil {
		return err
	}
	l, ok := newFPLayout(s0.bytes(offFP, uintptr(p.fpSize)))
	if !ok {
		return fmt.Errorf("systrap: unexpected FP state in the signal frame (want %d bytes)", p.fpSize)
	}
	p.fp = l
	p.initFP = make([]byte, p.fpSize)
	p.fp.fromFrame(p.initFP, s0.bytes(offFP, uintptr(p.fpSize)))
	p.pristine = th
	return nil
}

// openSlots opens the slot file the stub created, through /proc, and maps
// it.
func (p *Platform) openSlots(pid, fd int) error {
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("systrap: opening the slot file: %w", err)
	}
	nfd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return fmt.Errorf("systrap: %w", err)
	}
	p.slots.fd = nfd
	if err := unix.Ftruncate(nfd, maxSlots*slotSize); err != nil {
		return fmt.Errorf("systrap: sizing the slot file: %w", err)
	}
	mem, err := unix.Mmap(nfd, 0, maxSlots*slotSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("systrap: mapping the slot file: %w", err)
	}
	p.slots.mem = mem
	return nil
}

func (p *Platform) closeSlots() {
	if p.slots.mem != nil {
		unix.Munmap(p.slots.mem)
		p.slots.mem = nil
	}
	if p.slots.fd >= 0 {
		unix.Close(p.slots.fd)
		p.slots.fd = -1
	}
}

// waitReady waits for a new stub thread's first report: the ud2 at the
// end of its entry code.
func (p *Platform) waitReady(t *thread) error {
	if err := t.slot.wait(p.sentrySpin, t.alive); err != nil {
		return fmt.Errorf("systrap: new stub thread %d: %w", t.tid, err)
	}
	s := t.slot
	if *s.u32(offKind) != kindTrap || *s.u32(offSigno) != uint32(unix.SIGILL) || uintptr(s.greg(gRIP)) != p.page.enter {
		return fmt.Errorf("systrap: new stub thread %d reported kind %d signal %d at %#x",
			t.tid, *s.u32(offKind), *s.u32(offSigno), s.greg(gRIP))
	}
	return nil
}

// Name implements platform.Platform.
func (*Platform) Name() string { return "systrap" }

// MaxUserAddress implements platform.Platform.
func (*Platform) MaxUserAddress() uintptr { return stub.MaxUserAddress }

// FPStateSize implements platform.Platform.
func (p *Platform) FPStateSize() int { return p.fpSize }

// SyscallPatchEntry implements platform.SyscallPatcher: patched system
// calls need rdfsbase and friends (fastEntry, page_amd64.go).
func (p *Platform) SyscallPatchEntry() uintptr {
	if p.flags&flagFSGSBase == 0 {
		return 0
	}
	return p.page.fastEntry
}

// NewContext implements platform.Platform.
func (p *Platform) NewContext() (platform.Context, error) { return &context{p: p}, nil }

var errReleased = errors.New("systrap: platform released")

// NewAddressSpace implements platform.Platform: the pristine stub clones
// a new process on command.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	p.mu.Lock()
	released := p.released
	p.mu.Unlock()
	if released {
		return nil, errReleased
	}
	ls, err := p.slots.alloc()
	if err != nil {
		return nil, fmt.Errorf("systrap: no free slot: %w", err)
	}
	ls.init(p)
	p.pristineMu.Lock()
	ret, err := p.pristine.command(p, cmdCloneProcess, uint64(ls.off()), uint64(unix.Getpid()))
	p.pristineMu.Unlock()
	if err == nil && ret < 0 {
		err = fmt.Errorf("systrap: clone in the pristine stub: %w", unix.Errno(-ret))
	}
	if err != nil {
		p.slots.release(ls)
		return nil, err
	}
	pid := int32(ret)
	leader := &thread{tgid: pid, tid: pid, slot: ls}
	if err := p.waitReady(leader); err != nil {
		reap(pid)
		p.slots.release(ls)
		return nil, err
	}
	s := &addressSpace{p: p, pid: pid, leader: leader, nextLocal: 1}
	leader.as = s
	p.mu.Lock()
	if p.released {
		p.mu.Unlock()
		s.Release()
		return nil, errReleased
	}
	p.spaces[s] = struct{}{}
	p.mu.Unlock()
	return s, nil
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
	reap(p.pristine.tgid)
	p.slots.release(p.pristine.slot)
	p.pristineMu.Unlock()
	p.closeSlots()
	close(p.parentUp)
}

// thread is one stub thread, parked in its signal handler whenever the
// Sentry is not running application code or a command on it.
type thread struct {
	as        *addressSpace // nil for the pristine stub
	tgid, tid int32
	slot      *slot

	// inPool is set while the thread sits in its address space's pool;
	// guarded by as.mu.
	inPool bool
}

// alive reports whether the stub thread may still answer.
func (t *thread) alive() bool {
	if processExited(t.tgid) {
		return false
	}
	return tgkill(t.tgid, t.tid, 0) != unix.ESRCH
}

// command runs one command on an idle stub thread and returns its result.
func (t *thread) command(p *Platform, cmd uint32, args ...uint64) (int64, error) {
	s := t.slot
	for i, a := range args {
		*s.u64(offArgs + uintptr(i)*8) = a
	}
	s.publish(cmd)
	if err := s.wait(p.sentrySpin, t.alive); err != nil {
		return 0, err
	}
	if k := *s.u32(offKind); k != kindDone {
		return 0, fmt.Errorf("%w: stub thread %d answered command %d with kind %d", platform.ErrContextDead, t.tid, cmd, k)
	}
	return int64(*s.u64(offRet)), nil
}

// errnoOf turns a raw syscall result into an error.
func errnoOf(ret int64) error {
	if ret < 0 && ret >= -4095 {
		return linux.Errno(-ret)
	}
	return nil
}
