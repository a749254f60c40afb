package kernel

import (
	"sync/atomic"
	"testing"

	"appkernel.dev/appkernel/pkg/metric"
)

func valueOf(name, label string) int64 {
	for _, v := range metric.Default.Snapshot().Metrics {
		if v.Name == name {
			return v.Values[label]
		}
	}
	return -1
}

func TestSyscallMetrics(t *testing.T) {
	table := NewSyscallTable("linux", "test", []Syscall{
		0: {Name: "zero", Support: SupportFull},
		2: {Name: "two"},
		// 1 and 3 are holes: not syscalls.
		3: {},
	})
	RegisterSyscallMetrics(table)
	for i := range 3 {
		countSyscallIn(i, 2) // summed over shards
	}
	countSyscallIn(0, 0)
	countSyscallIn(5, 1)      // a hole
	countSyscallIn(0, 100000) // beyond the counters
	table.RecordUnimplemented(2)
	table.RecordUnimplemented(100000)
	sampleSyscallMetrics()

	for _, c := range []struct {
		name, label string
		want        int64
	}{
		{"appkernel_syscalls_total", "two", 3},
		{"appkernel_syscalls_total", "zero", 1},
		{"appkernel_syscalls_total", UnknownSyscallLabel, 2},
		{"appkernel_unimplemented_syscalls_total", "two", 1},
		{"appkernel_unimplemented_syscalls_total", UnknownSyscallLabel, 1},
		{"appkernel_unimplemented_syscalls_total", "zero", 0},
	} {
		if got := valueOf(c.name, c.label); got != c.want {
			t.Errorf("%s{syscall=%q} = %d, want %d", c.name, c.label, got, c.want)
		}
	}
	md := registeredSyscallMetrics.Load().calls.Metadata()
	if got := md.LabelValues; len(got) != 3 || got[0] != "zero" || got[1] != "two" || got[2] != UnknownSyscallLabel {
		t.Errorf("label values %v, want [zero two unknown]", got)
	}
}

// The dispatcher pays this on every syscall.
func BenchmarkCountSyscall(b *testing.B) {
	// 0 is fully supported in TestSyscallMetrics's table, so this is the
	// common path: count, and check the compatibility flag.
	t := &Task{}
	for b.Loop() {
		t.countSyscall(0)
	}
}

// Tasks on every CPU making the same syscall at once, each task in its
// own shard (as most are) or all in one (the worst case: one cache line
// bouncing between CPUs).
func BenchmarkCountSyscallParallel(b *testing.B) {
	for _, c := range []struct {
		name   string
		shared bool
	}{{"own-shards", false}, {"one-shard", true}} {
		b.Run(c.name, func(b *testing.B) {
			var next atomic.Int32
			b.RunParallel(func(pb *testing.PB) {
				shard := 0
				if !c.shared {
					shard = int(next.Add(1))
				}
				for pb.Next() {
					countSyscallIn(shard, 39)
				}
			})
		})
	}
}

func TestCountSyscallDoesNotAllocate(t *testing.T) {
	task := &Task{}
	if n := testing.AllocsPerRun(100, func() { task.countSyscall(0) }); n != 0 {
		t.Errorf("countSyscall allocates %v times", n)
	}
}
