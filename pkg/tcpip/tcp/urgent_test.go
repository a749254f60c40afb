package tcp

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

// TestUrgentPointer checks that the sender's urgent pointer reaches the
// peer's App, at the right byte, with the data.
func TestUrgentPointer(t *testing.T) {
	ln := newTestListener(testPort, 1<<20)
	a, b := newPipe(t, nil, ln, nil)
	client, server, _, _ := dial(t, a, b, ln, 40100, 1<<20)

	var urgSegs int
	a.setDrop(func(s *segment) bool {
		if s.has(flagURG) {
			urgSegs++
		}
		return false
	})
	data := []byte("hello!")
	client.mu.Lock()
	client.sndUp = len(data)
	client.mu.Unlock()
	client.mustWrite(t, data, 5*time.Second)
	if got := server.mustRead(t, len(data), 5*time.Second); !bytes.Equal(got, data) {
		t.Fatalf("read %q", got)
	}
	if got := server.urgents(); !slices.Equal(got, []int{5}) {
		t.Fatalf("urgent bytes at %v, want [5]", got)
	}
	a.mu.Lock()
	n := urgSegs
	a.mu.Unlock()
	if n == 0 {
		t.Fatal("no segment had URG set")
	}
	// Acknowledged, the pointer is gone: later data is not urgent.
	waitUntil(t, "urgent data acknowledged", 5*time.Second, func() bool {
		_, ok := client.SendUrgent()
		return !ok
	})
	client.mustWrite(t, []byte("more"), 5*time.Second)
	server.mustRead(t, 4, 5*time.Second)
	if got := server.urgents(); !slices.Equal(got, []int{5}) {
		t.Fatalf("urgent bytes at %v after normal data, want [5]", got)
	}
}

// TestUrgentPointerClosedWindow checks that the urgent pointer reaches
// a peer whose window keeps the urgent byte out: urgent data bypasses
// flow control (RFC 9293 section 3.8.5).
func TestUrgentPointerClosedWindow(t *testing.T) {
	const limit, first, second = 4096, 3000, 2000
	ln := newTestListener(testPort, limit)
	a, b := newPipe(t, nil, ln, nil)
	client, server, _, _ := dial(t, a, b, ln, 40101, 1<<20)
	client.mustWrite(t, make([]byte, first), 5*time.Second)
	waitUntil(t, "the first bytes", 5*time.Second, func() bool {
		server.mu.Lock()
		defer server.mu.Unlock()
		return len(server.in) == first
	})
	// More than the window takes, ending with the urgent byte.
	client.mustWrite(t, make([]byte, second), 5*time.Second)
	client.urgentAt(first + second - 1)
	waitUntil(t, "the urgent pointer", 5*time.Second, func() bool {
		return len(server.urgents()) > 0
	})
	if got := server.urgents(); got[len(got)-1] != first+second-1 {
		t.Fatalf("urgent bytes at %v, want %d", got, first+second-1)
	}
	server.mu.Lock()
	n := len(server.in)
	server.mu.Unlock()
	if n >= first+second {
		t.Fatalf("the pointer came with all %d bytes, want it before the urgent byte", n)
	}
	if got := server.mustRead(t, first+second, 5*time.Second); len(got) != first+second {
		t.Fatalf("read %d bytes", len(got))
	}
}

// TestUrgentPointerZeroWindowProbe checks that a window probe carries
// the urgent pointer to a peer whose window is zero.
func TestUrgentPointerZeroWindowProbe(t *testing.T) {
	const limit, first = 4096, 3000
	ln := newTestListener(testPort, limit)
	a, b := newPipe(t, nil, ln, nil)
	client, server, _, _ := dial(t, a, b, ln, 40102, 1<<20)
	client.mustWrite(t, make([]byte, first), 5*time.Second)
	waitUntil(t, "the first bytes", 5*time.Second, func() bool {
		server.mu.Lock()
		defer server.mu.Unlock()
		return len(server.in) == first
	})
	// Fill the window (advertised in units of 128 bytes) to zero.
	client.mustWrite(t, make([]byte, limit-first), 5*time.Second)
	waitUntil(t, "the window to fill", 5*time.Second, func() bool {
		server.mu.Lock()
		defer server.mu.Unlock()
		return len(server.in) > limit-128
	})
	var probes int
	a.setDrop(func(s *segment) bool {
		if s.has(flagURG) && len(s.payload) == 0 {
			probes++
		}
		return false
	})
	client.mustWrite(t, []byte("!"), 5*time.Second)
	client.urgentAt(limit)
	waitUntil(t, "the urgent pointer", 5*time.Second, func() bool {
		return len(server.urgents()) > 0
	})
	if got := server.urgents(); got[0] != limit {
		t.Fatalf("urgent bytes at %v, want %d", got, limit)
	}
	a.mu.Lock()
	n := probes
	a.mu.Unlock()
	if n == 0 {
		t.Errorf("the pointer came without a window probe")
	}
	if got := server.mustRead(t, limit+1, 5*time.Second); len(got) != limit+1 {
		t.Fatalf("read %d bytes", len(got))
	}
}
