package boot

import (
	"context"
	"errors"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// Exec starts a new process in the running container, as `runsc exec`
// asks, with the host fds stdio as its fds 0, 1 and 2 (Exec owns them,
// whatever the outcome), and returns it. Its pid is in
// the container's PID namespace; like a process runc execs from outside
// the container, it has no parent inside.
func (s *Sandbox) Exec(container string, a *ProcessArgs, stdio [3]int) (*kernel.ThreadGroup, error) {
	env := s.rootEnv()
	if container != "" {
		sub, err := s.subs.get(container)
		if err != nil {
			closeFDs(stdio[:])
			return nil, err
		}
		env = sub.env
	}
	if env.mntns == nil {
		closeFDs(stdio[:])
		return nil, errors.New("the container has no file system yet")
	}
	t, err := s.createProcess(context.Background(), env, a, stdio)
	if err != nil {
		return nil, err
	}
	t.Start()
	return t.ThreadGroup(), nil
}

// execTable remembers the processes added by Exec, by pid, until their
// status has been collected, so a waiter that comes after the process
// ended still gets it.
type execTable struct {
	procs map[int32]*kernel.ThreadGroup
}

// add records tg and returns its pid.
func (e *execTable) add(tg *kernel.ThreadGroup) int32 {
	if e.procs == nil {
		e.procs = make(map[int32]*kernel.ThreadGroup)
	}
	// Keyed by the ID in the root namespace: pids of processes in the
	// PID namespaces of different containers may be equal.
	pid := int32(tg.RootID())
	e.procs[pid] = tg
	return pid
}

// lookup returns the exec'd process with pid.
func (e *execTable) lookup(pid int32) (*kernel.ThreadGroup, error) {
	tg, ok := e.procs[pid]
	if !ok {
		return nil, fmt.Errorf("no process %d was started by exec", pid)
	}
	return tg, nil
}

// remove forgets pid once its status has been collected.
func (e *execTable) remove(pid int32) { delete(e.procs, pid) }

// signalThreadGroup sends sig to tg from outside the sandbox.
func signalThreadGroup(tg *kernel.ThreadGroup, sig linux.Signal) error {
	return tg.SendGroupSignal(&linux.SignalInfo{Signo: int32(sig), Code: linux.SI_USER})
}
