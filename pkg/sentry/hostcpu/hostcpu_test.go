package hostcpu

import (
	"runtime"
	"testing"
)

// TestCurrentMatchesGetcpu compares with the host's answer on a thread
// that stays put between the two (retrying if it moved).
func TestCurrentMatchesGetcpu(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for try := 0; try < 100; try++ {
		c1, n1 := getcpu()
		c, n := Current()
		c2, n2 := getcpu()
		if c1 != c2 || n1 != n2 {
			continue
		}
		if c != c1 || n != n1 {
			t.Fatalf("Current() = cpu %d node %d, getcpu says cpu %d node %d", c, n, c1, n1)
		}
		return
	}
	t.Skip("the thread kept moving")
}

func BenchmarkCurrent(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Current()
	}
}

func BenchmarkGetcpu(b *testing.B) {
	for i := 0; i < b.N; i++ {
		getcpu()
	}
}
