package gofer

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func benchRoot(b *testing.B) *fixture {
	f := newRoot(b, false)
	f.write("d/f", "a small file's contents")
	reportCPU(b)
	return f
}

// reportCPU adds the process's CPU time per op (client and server both
// run here) to the benchmark's output: on a shared, busy machine it is a
// steadier measure of the protocol's cost than wall time, which is
// dominated by waking sleeping threads.
func reportCPU(b *testing.B) {
	cpu := func() int64 {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	start := cpu()
	b.Cleanup(func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
		}
	})
}

// BenchmarkWalkStat is one round trip that walks two components and
// returns their stats.
func BenchmarkWalkStat(b *testing.B) {
	f := benchRoot(b)
	names := []string{"d", "f"}
	for b.Loop() {
		if w, err := f.c.WalkStat(f.root, names); err != nil || len(w.Stats) != 2 {
			b.Fatal(w, err)
		}
	}
}

func BenchmarkWalkStatParallel(b *testing.B) {
	f := benchRoot(b)
	names := []string{"d", "f"}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if w, err := f.c.WalkStat(f.root, names); err != nil || len(w.Stats) != 2 {
				b.Error(w, err)
				return
			}
		}
	})
}

// BenchmarkWalkClose makes and releases handles: Walk then Close, two
// round trips.
func BenchmarkWalkClose(b *testing.B) {
	f := benchRoot(b)
	names := []string{"d", "f"}
	for b.Loop() {
		w, err := f.c.Walk(f.root, names)
		if err != nil || len(w.Inodes) != 2 {
			b.Fatal(w, err)
		}
		if err := f.c.CloseFDs(w.Inodes[0].FD, w.Inodes[1].FD); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenRead opens a walked file, reads it through the donated
// descriptor and releases the open handle: two round trips plus the
// host read.
func BenchmarkOpenRead(b *testing.B) {
	f := benchRoot(b)
	node := f.walk("d", "f")
	buf := make([]byte, 64)
	for b.Loop() {
		id, hostFD, err := f.c.Open(node.FD, unix.O_RDONLY)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := unix.Pread(hostFD, buf, 0); err != nil || n == 0 {
			b.Fatal(n, err)
		}
		unix.Close(hostFD)
		if err := f.c.CloseFDs(id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNativeOpenRead is the host baseline for BenchmarkOpenRead.
func BenchmarkNativeOpenRead(b *testing.B) {
	f := benchRoot(b)
	p := filepath.Join(f.dir, "d/f")
	buf := make([]byte, 64)
	for b.Loop() {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		unix.Pread(fd, buf, 0)
		unix.Close(fd)
	}
}

// BenchmarkGetdents lists a 1000-entry directory.
func BenchmarkGetdents(b *testing.B) {
	f := benchRoot(b)
	for i := 0; i < 1000; i++ {
		f.write(filepath.Join("big", "entry-"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676))), "")
	}
	big := f.walk("big")
	for b.Loop() {
		var cookie uint64
		n := 0
		for {
			des, err := f.c.Getdents64(big.FD, cookie, 32<<10)
			if err != nil {
				b.Fatal(err)
			}
			if len(des) == 0 {
				break
			}
			n += len(des)
			cookie = des[len(des)-1].Off
		}
		if n != 1000 {
			b.Fatalf("%d entries", n)
		}
	}
}
