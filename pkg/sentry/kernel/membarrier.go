package kernel

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// membarrier(2) support.
//
// A barrier must make every other running thread of the process execute
// a full memory barrier. The caller itself trapped into the Sentry, which
// is one; but the process's other threads run application code in stub
// processes on other host CPUs without trapping, so the Sentry asks the
// host for MEMBARRIER_CMD_GLOBAL, which waits until every host CPU has
// passed through a barrier (an RCU grace period: milliseconds). A process
// with a single thread needs nothing more.

// MembarrierRegister records a MEMBARRIER_CMD_REGISTER_* command for t's
// process.
func (t *Task) MembarrierRegister(cmd int) {
	e := t.tg.extras()
	e.mu.Lock()
	e.membarrierRegistered |= cmd
	e.mu.Unlock()
}

// MembarrierRegistered reports whether t's process registered cmd.
func (t *Task) MembarrierRegistered(cmd int) bool {
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.membarrierRegistered&cmd != 0
}

// Membarrier makes every thread of every process (global) or of t's
// process execute a memory barrier before it returns.
func (t *Task) Membarrier(global bool) error {
	if !global {
		t.k.tasksMu.RLock()
		alone := len(t.tg.tasks) <= 1
		t.k.tasksMu.RUnlock()
		if alone {
			return nil
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, linux.MEMBARRIER_CMD_GLOBAL, 0, 0); errno != 0 {
		// Without the host's help no barrier can be promised.
		return linux.ENOSYS
	}
	return nil
}

// MembarrierRegistrations returns the MEMBARRIER_CMD_REGISTER_* commands
// t's process has issued (MEMBARRIER_CMD_GET_REGISTRATIONS).
func (t *Task) MembarrierRegistrations() int {
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.membarrierRegistered
}
