package netstack

import (
	"net/netip"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

func bindingFor(family int, v6only bool, addr string, reuseAddr bool) *binding {
	o := defaultOpts(true)
	o.ReuseAddr = reuseAddr
	return newBinding(family, v6only, netip.MustParseAddr(addr), &o, nil)
}

func TestBindConflicts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		a, b      *binding
		listenA   bool
		tcp       bool
		conflicts bool
	}{
		{"different addresses", bindingFor(socket.AF_INET, false, "127.0.0.2", false), bindingFor(socket.AF_INET, false, "127.0.0.1", false), false, true, false},
		{"same address", bindingFor(socket.AF_INET, false, "127.0.0.1", false), bindingFor(socket.AF_INET, false, "127.0.0.1", false), false, true, true},
		{"wildcard", bindingFor(socket.AF_INET, false, "0.0.0.0", false), bindingFor(socket.AF_INET, false, "127.0.0.1", false), false, true, true},
		{"reuseaddr", bindingFor(socket.AF_INET, false, "0.0.0.0", true), bindingFor(socket.AF_INET, false, "127.0.0.1", true), false, true, false},
		{"reuseaddr listening", bindingFor(socket.AF_INET, false, "0.0.0.0", true), bindingFor(socket.AF_INET, false, "127.0.0.1", true), true, true, true},
		{"reuseaddr listening udp", bindingFor(socket.AF_INET, false, "0.0.0.0", true), bindingFor(socket.AF_INET, false, "127.0.0.1", true), true, false, false},
		{"dual stack", bindingFor(socket.AF_INET6, false, "::", false), bindingFor(socket.AF_INET, false, "0.0.0.0", false), false, true, true},
		{"v6only", bindingFor(socket.AF_INET6, true, "::", false), bindingFor(socket.AF_INET, false, "0.0.0.0", false), false, true, false},
		{"v4-mapped", bindingFor(socket.AF_INET6, false, "127.0.0.1", false), bindingFor(socket.AF_INET, false, "0.0.0.0", false), false, true, true},
		{"v6 and v4 specific", bindingFor(socket.AF_INET6, false, "::1", false), bindingFor(socket.AF_INET, false, "0.0.0.0", false), false, true, false},
	} {
		// a is the existing binding (listening if listenA), b the new
		// one.
		tc.a.listening = tc.listenA
		if got := tc.b.conflicts(tc.a, tc.tcp); got != tc.conflicts {
			t.Errorf("%s: b.conflicts(a) = %v, want %v", tc.name, got, tc.conflicts)
		}
		// Linux looks only at the existing socket's state: a new
		// listener may join a bound SO_REUSEADDR socket.
		want := tc.conflicts && !(tc.listenA && tc.a.reuseAddr && tc.b.reuseAddr)
		if got := tc.a.conflicts(tc.b, tc.tcp); got != want {
			t.Errorf("%s: a.conflicts(b) = %v, want %v", tc.name, got, want)
		}
	}
}

func TestReserve(t *testing.T) {
	s := NewStack()
	a := bindingFor(socket.AF_INET, false, "127.0.0.2", false)
	p, err := s.reserve(true, 0, a, linux.EADDRINUSE)
	if err != nil || p < ephemeralFirst || p > ephemeralLast {
		t.Fatalf("reserve(0) = %d, %v; want an ephemeral port", p, err)
	}
	b := bindingFor(socket.AF_INET, false, "127.0.0.1", false)
	if _, err := s.reserve(true, p, b, linux.EADDRINUSE); err != nil {
		t.Fatalf("reserve(%d) on another address: %v", p, err)
	}
	c := bindingFor(socket.AF_INET, false, "0.0.0.0", false)
	if _, err := s.reserve(true, p, c, linux.EADDRINUSE); err != linux.EADDRINUSE {
		t.Fatalf("reserve(%d) on the wildcard: %v, want EADDRINUSE", p, err)
	}
	s.release(true, p, a)
	s.release(true, p, b)
	if _, err := s.reserve(true, p, c, linux.EADDRINUSE); err != nil {
		t.Fatalf("reserve(%d) after release: %v", p, err)
	}
	// UDP ports are a separate space.
	if _, err := s.reserve(false, p, bindingFor(socket.AF_INET, false, "0.0.0.0", false), linux.EADDRINUSE); err != nil {
		t.Fatalf("UDP reserve(%d): %v", p, err)
	}
}
