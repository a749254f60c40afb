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

// RootProcessAsCommand makes the sandbox's first process behave as the
// command run directly, for `runsc do`, where the program is a command
// the user runs, not a container's init:
//   - It loses init's protection: signals it has no handler for take
//     their default action, so Ctrl-C, SIGTERM from timeout(1) or a
//     terminal hangup end it.
//   - Its session stands for the caller's, whose leader it is not: opening
//     a terminal never makes it the session's controlling terminal. A
//     program that opens a pty's slave without O_NOCTTY would otherwise
//     get SIGHUP when it closes the master (Go's os tests do this).
func (k *Kernel) RootProcessAsCommand() {
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	if tg := k.rootPIDNS.init; tg != nil {
		k.commandSession = tg.sid
		tg.signalMu.Lock()
		tg.lostUnkillable = true
		tg.signalMu.Unlock()
	}
}
