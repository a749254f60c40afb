package systrap

import (
	"fmt"
	"syscall"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// Setup of the pristine stub. This is the only place the platform uses
// ptrace, and it runs once, inside New, on the thread that exec'd the stub
// (its tracer): it injects the calls that turn the stub package's pristine
// process into a systrap stub, then detaches for good.

// tracee is the pristine stub while New sets it up.
type tracee struct {
	pid  int
	base unix.PtraceRegs // registers at the init trap: the base for injections
}

func (t *tracee) errorf(f string, args ...any) error {
	return fmt.Errorf("systrap: setting up the stub (pid %d): %s", t.pid, fmt.Sprintf(f, args...))
}

// waitStop waits for the tracee's next stop.
func (t *tracee) waitStop() (unix.WaitStatus, error) {
	for {
		var st unix.WaitStatus
		_, err := unix.Wait4(t.pid, &st, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, t.errorf("wait4: %v", err)
		}
		if !st.Stopped() {
			return st, t.errorf("stub died: status %#x", uint32(st))
		}
		return st, nil
	}
}

// start runs the stub's start-up code to its trap and checks its results.
func (t *tracee) start() error {
	if _, err := t.waitStop(); err != nil { // after execve
		return err
	}
	if err := unix.PtraceCont(t.pid, 0); err != nil {
		return t.errorf("PTRACE_CONT: %v", err)
	}
	st, err := t.waitStop()
	if err != nil {
		return err
	}
	if err := unix.PtraceGetRegs(t.pid, &t.base); err != nil {
		return t.errorf("PTRACE_GETREGS: %v", err)
	}
	if st.StopSignal() != unix.SIGTRAP || uintptr(t.base.Rip) != stub.Layout().InitTrap {
		return t.errorf("start-up stopped by signal %d at %#x", st.StopSignal(), t.base.Rip)
	}
	var lr linux.PtraceRegs
	lr.R12, lr.R13, lr.R14 = t.base.R12, t.base.R13, t.base.R14
	for i, r := range stub.InitResults(&lr) {
		if int64(r) < 0 && int64(r) >= -4095 {
			return t.errorf("start-up call %d: %v", i, unix.Errno(-int64(r)))
		}
	}
	return nil
}

// syscall makes the stopped tracee execute one system call and returns
// its result (a negative errno on failure).
func (t *tracee) syscall(nr uintptr, args ...uintptr) (int64, error) {
	r := t.base
	var a [6]uint64
	for i, v := range args {
		a[i] = uint64(v)
	}
	r.Rip = uint64(stub.Layout().Syscall)
	r.Rax = uint64(nr)
	r.Orig_rax = ^uint64(0)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := unix.PtraceSetRegs(t.pid, &r); err != nil {
		return 0, t.errorf("PTRACE_SETREGS: %v", err)
	}
	if err := unix.PtraceCont(t.pid, 0); err != nil {
		return 0, t.errorf("PTRACE_CONT: %v", err)
	}
	st, err := t.waitStop()
	if err != nil {
		return 0, err
	}
	if err := unix.PtraceGetRegs(t.pid, &r); err != nil {
		return 0, t.errorf("PTRACE_GETREGS: %v", err)
	}
	if st.StopSignal() != unix.SIGTRAP || uintptr(r.Rip) != stub.Layout().SyscallTrap {
		return 0, t.errorf("syscall %d stopped by signal %d at %#x", nr, st.StopSignal(), r.Rip)
	}
	return int64(r.Rax), nil
}

// mustSyscall is syscall with a failed call turned into an error.
func (t *tracee) mustSyscall(name string, nr uintptr, args ...uintptr) (int64, error) {
	ret, err := t.syscall(nr, args...)
	if err != nil {
		return 0, err
	}
	if ret < 0 && ret >= -4095 {
		return 0, t.errorf("%s: %v", name, unix.Errno(-ret))
	}
	return ret, nil
}

// poke writes b (a multiple of 8 bytes) at addr in the tracee.
func (t *tracee) poke(addr uintptr, b []byte) error {
	for i := 0; i < len(b); i += 8 {
		w := *(*uintptr)(unsafe.Pointer(&b[i]))
		if _, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_POKEDATA, uintptr(t.pid), addr+uintptr(i), w, 0, 0); e != 0 {
			return t.errorf("PTRACE_POKEDATA: %v", e)
		}
	}
	return nil
}

// installCode maps the code page and has the stub create the slot file
// at shmFD, which it returns; the Sentry opens the file through
// /proc/PID/fd (the stub holds no other way to receive it).
func (t *tracee) installCode(pg *page) (int, error) {
	if _, err := t.mustSyscall("mmap code", unix.SYS_MMAP, codeBase, codeSize,
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uintptr(0), 0); err != nil {
		return 0, err
	}
	if err := t.poke(codeBase, pg.image); err != nil {
		return 0, err
	}
	if _, err := t.mustSyscall("mprotect code", unix.SYS_MPROTECT, codeBase, codeSize, unix.PROT_READ|unix.PROT_EXEC); err != nil {
		return 0, err
	}
	fd, err := t.mustSyscall("memfd_create", unix.SYS_MEMFD_CREATE, pg.name, 0)
	if err != nil {
		return 0, err
	}
	if fd != shmFD {
		if _, err := t.mustSyscall("dup2", unix.SYS_DUP2, uintptr(fd), shmFD); err != nil {
			return 0, err
		}
		if _, err := t.mustSyscall("close", unix.SYS_CLOSE, uintptr(fd)); err != nil {
			return 0, err
		}
	}
	return shmFD, nil
}

// arm maps slot 0, installs the handlers and the filter, and sends the
// stub to its thread entry, detached.
func (t *tracee) arm(pg *page, slot0Off uint64) error {
	if _, err := t.mustSyscall("mmap slot", unix.SYS_MMAP, slotRegion, slotSize,
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED, shmFD, uintptr(slot0Off)); err != nil {
		return err
	}
	for _, sig := range trapSignals {
		if _, err := t.mustSyscall("rt_sigaction", unix.SYS_RT_SIGACTION, uintptr(sig), pg.sigact, 0, 8); err != nil {
			return err
		}
	}
	if _, err := t.mustSyscall("PR_SET_NO_NEW_PRIVS", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if _, err := t.mustSyscall("seccomp", unix.SYS_SECCOMP, linux.SECCOMP_SET_MODE_FILTER, 0, pg.fprog); err != nil {
		return err
	}
	r := t.base
	r.Rip = uint64(pg.childEntry)
	r.R14 = slotRegion
	r.Orig_rax = ^uint64(0)
	if err := unix.PtraceSetRegs(t.pid, &r); err != nil {
		return t.errorf("PTRACE_SETREGS: %v", err)
	}
	if err := unix.PtraceDetach(t.pid); err != nil {
		return t.errorf("PTRACE_DETACH: %v", err)
	}
	return nil
}
