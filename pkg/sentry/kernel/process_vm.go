package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// ProcessVMIO implements process_vm_readv (write false) and
// process_vm_writev: it copies between t's buffers local and the buffers
// remote of process pid, in order, with the permission to attach to it
// (EPERM otherwise). Remote memory is accessed with its own protections.
// It returns the bytes moved; an error only when nothing moved.
func (t *Task) ProcessVMIO(pid ThreadID, local, remote []linux.Iovec, write bool) (int, error) {
	k := t.k
	k.tasksMu.RLock()
	target := t.tg.pidns.tasks[pid]
	k.tasksMu.RUnlock()
	if target == nil {
		return 0, linux.ESRCH
	}
	if target.tg != t.tg {
		if err := t.ptraceMayAccess(target); err != nil {
			return 0, err
		}
	}
	m := target.ProcMemoryManager()
	if m == nil {
		return 0, linux.ESRCH
	}
	defer m.DecUsers()

	done := 0
	li, loff := 0, uint64(0)
	buf := make([]byte, 64<<10)
	for _, r := range remote {
		roff := uint64(0)
		for roff < r.Len {
			for li < len(local) && loff == local[li].Len {
				li, loff = li+1, 0
			}
			if li == len(local) {
				return done, nil
			}
			n := int(min(r.Len-roff, local[li].Len-loff, uint64(len(buf))))
			b := buf[:n]
			laddr, raddr := uintptr(local[li].Base+loff), uintptr(r.Base+roff)
			var c int
			var err error
			if write {
				if c, err = t.mm.CopyIn(laddr, b); c > 0 {
					var w int
					w, err2 := m.CopyOut(raddr, b[:c])
					if err2 != nil || w < c {
						err = linux.EFAULT
					}
					c = w
				}
			} else {
				if c, err = m.CopyIn(raddr, b); c > 0 {
					w, err2 := t.mm.CopyOut(laddr, b[:c])
					if err2 != nil || w < c {
						err = linux.EFAULT
					}
					c = w
				}
			}
			done += c
			roff += uint64(c)
			loff += uint64(c)
			if err != nil || c < n {
				if done == 0 {
					return 0, linux.EFAULT
				}
				return done, nil
			}
		}
	}
	return done, nil
}
