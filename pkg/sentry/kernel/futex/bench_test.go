package futex

import (
	"testing"
	"time"
)

// BenchmarkWakeNoWaiters is the cost of FUTEX_WAKE when nobody waits, the
// common case of an uncontended unlock that saw a stale waiters bit.
func BenchmarkWakeNoWaiters(b *testing.B) {
	e := newEnv(b)
	a := e.page()
	for _, private := range []bool{true, false} {
		name := "shared"
		if private {
			name = "private"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				e.m.Wake(e.mm, a, private, any32, 1)
			}
		})
	}
}

// BenchmarkPingPong is one wait/wake round trip between two goroutines.
func BenchmarkPingPong(b *testing.B) {
	e := newEnv(b)
	a := e.page()
	done := make(chan struct{})
	turn := func(side uint32, n int) {
		bl := newBlocker()
		for i := 0; i < n; i++ {
			for {
				v, _ := e.mm.LoadUint32(a)
				if v == side {
					break
				}
				e.m.Wait(e.mm, bl, a, true, v, any32, time.Time{})
			}
			e.mm.SwapUint32(a, 1-side)
			e.m.Wake(e.mm, a, true, any32, 1)
		}
	}
	b.ResetTimer()
	go func() { turn(1, b.N); close(done) }()
	turn(0, b.N)
	<-done
}
