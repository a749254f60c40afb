package kernel

import "appkernel.dev/appkernel/pkg/abi/linux"

// NewChildPIDNamespace returns a new PID namespace below the root one, for
// a container that joins the sandbox with processes of its own (a pod's
// second container): the first process CreateProcess puts there is its
// init, whose exit takes the namespace's other processes with it.
func (k *Kernel) NewChildPIDNamespace() *PIDNamespace {
	return newPIDNamespace(k.rootPIDNS)
}

// RootID returns tg's TGID in the root PID namespace, unique across the
// sandbox; 0 once it has been reaped.
func (tg *ThreadGroup) RootID() ThreadID {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	return tg.k.rootPIDNS.tgids[tg]
}

// SendExternalSignal sends info to tg as a signal from outside the
// sandbox: like one from an ancestor PID namespace, it reaches a
// namespace's init even without a handler (SIGKILL above all).
func (tg *ThreadGroup) SendExternalSignal(info *linux.SignalInfo) error {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	if tg.leader == nil {
		return linux.ESRCH
	}
	return tg.leader.sendSignalLocked(info, true, true)
}
