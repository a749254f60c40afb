package kernel

import "appkernel.dev/appkernel/pkg/abi/linux"

// SignalRootProcess sends sig to the sandbox's first process from outside
// the sandbox (the runtime forwarding a signal it received, or `runsc
// kill`). Like a signal from an ancestor PID namespace, it reaches init
// even when init has no handler for it.
func (k *Kernel) SignalRootProcess(sig linux.Signal) error {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	tg := k.rootPIDNS.init
	if tg == nil || tg.leader == nil {
		return linux.ESRCH
	}
	info := &linux.SignalInfo{Signo: int32(sig), Code: linux.SI_USER}
	return tg.leader.sendSignalLocked(info, true, true)
}

// RootProcessAsCommand drops the sandbox's first process's protection as
// a PID namespace's init: signals it has no handler for take their
// default action, as they would for the command run directly. For `runsc
// do`, where the program is a command the user runs, not a container's
// init, so Ctrl-C, SIGTERM from timeout(1) or a terminal hangup end it.
func (k *Kernel) RootProcessAsCommand() {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	if tg := k.rootPIDNS.init; tg != nil {
		tg.signalMu.Lock()
		tg.lostUnkillable = true
		tg.signalMu.Unlock()
	}
}
