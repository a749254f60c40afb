package systrap

import (
	"appkernel.dev/appkernel/pkg/sentry/platform/platformtest"
	"runtime"
	"slices"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// BenchmarkSyscallRoundTrip measures one application system call: Switch
// into a `syscall; jmp` loop and back.
func BenchmarkSyscallRoundTrip(b *testing.B) {
	benchRoundTrip(b, func(*testEnv) []byte { return platformtest.SyscallLoop })
}

// BenchmarkPatchedSyscallRoundTrip is the same through fastEntry, as from
// a patched call site.
func BenchmarkPatchedSyscallRoundTrip(b *testing.B) {
	benchRoundTrip(b, func(e *testEnv) []byte {
		if e.p.SyscallPatchEntry() == 0 {
			b.Skip("no FSGSBASE: syscall patching is off")
		}
		return fastProg(e.p.SyscallPatchEntry(), 39)
	})
}

func benchRoundTrip(b *testing.B, prog func(*testEnv) []byte) {
	e := newEnv(b)
	as := e.newAS()
	e.write(0, prog(e))
	e.mapFile(as, codeAddr, 0, pg, platform.AccessType{Read: true, Execute: true})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c := e.newContext()
	ac := at(codeAddr)
	if _, err := c.Switch(as, ac); err != nil {
		b.Fatal(err)
	}
	// The mean hides the shape: most round trips meet a spinning peer,
	// a few pay a futex wake. Report the median and the 99th percentile.
	d := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		tr, err := c.Switch(as, ac)
		d[i] = time.Since(start)
		if err != nil || tr.Kind != platform.TrapSyscall {
			b.Fatalf("Switch: %v %v", tr.Kind, err)
		}
	}
	b.StopTimer()
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkMapFile measures one MapFile command (an mmap in the leader).
func BenchmarkMapFile(b *testing.B) {
	e := newEnv(b)
	as := e.newAS()
	for i := 0; i < b.N; i++ {
		if err := as.MapFile(dataAddr, 0, pg, platform.Read); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewAddressSpace measures creating an address space (a stub
// process cloned by the pristine stub) and releasing it, as fork and exit
// in the sandbox do.
func BenchmarkNewAddressSpace(b *testing.B) {
	e := newEnv(b)
	var create, release time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		as, err := e.p.NewAddressSpace()
		if err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		as.Release()
		create += mid.Sub(start)
		release += time.Since(mid)
	}
	b.ReportMetric(float64(create.Nanoseconds())/float64(b.N), "create-ns")
	b.ReportMetric(float64(release.Nanoseconds())/float64(b.N), "release-ns")
}
