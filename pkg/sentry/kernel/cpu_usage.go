package kernel

// CPUUsage returns the CPU time every task of the sandbox has used since
// it started, live or exited: /proc/stat's totals.
func (k *Kernel) CPUUsage() Usage {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	u := k.exitedCPU
	for t := range k.rootPIDNS.tids {
		// A dead task's time is in exitedCPU already.
		if t.exitState == taskRunning {
			tu := t.CPUUsage()
			u.User += tu.User
			u.System += tu.System
		}
	}
	return u
}
