package ptrace

import (
	"appkernel.dev/appkernel/pkg/sentry/platform/platformtest"
	"runtime"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// BenchmarkSyscallRoundTrip measures one application system call: Switch
// into a `syscall; jmp` loop and back, with the stub thread pinned to the
// tracer's CPU and without.
func BenchmarkSyscallRoundTrip(b *testing.B) {
	for _, pinned := range []bool{true, false} {
		name := "unpinned"
		if pinned {
			name = "pinned"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b)
			e.p.pinning = pinned
			as := e.newAS()
			e.write(0, platformtest.SyscallLoop)
			e.mapFile(as, codeAddr, 0, page, platform.AccessType{Read: true, Execute: true})
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c := e.newContext()
			ac := at(codeAddr)
			if _, err := c.Switch(as, ac); err != nil {
				b.Fatal(err)
			}
			if !pinned {
				// Undo any pinning inherited from an earlier run.
				as.mu.Lock()
				for _, t := range as.threads {
					unpin(t.tid)
				}
				as.mu.Unlock()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tr, err := c.Switch(as, ac)
				if err != nil || tr.Kind != platform.TrapSyscall {
					b.Fatalf("Switch: %v %v", tr.Kind, err)
				}
			}
		})
	}
}
