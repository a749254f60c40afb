package checksum

import (
	"net/netip"
	"testing"
)

// TestIPv4Header checks the example header of RFC 1071's usual worked
// example: a header with its correct checksum in place sums to 0xffff.
func TestIPv4Header(t *testing.T) {
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	c := Checksum(h)
	if c != 0xb861 {
		t.Fatalf("checksum = %#x, want 0xb861", c)
	}
	h[10], h[11] = byte(c>>8), byte(c)
	if got := Checksum(h); got != 0 {
		t.Fatalf("checksum over a correct header = %#x, want 0", got)
	}
}

// TestChained checks that summing in pieces equals summing at once.
func TestChained(t *testing.T) {
	b := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	whole := Add(0, b)
	if got := Add(Add(Add(0, b[:2]), b[2:12]), b[12:]); got != whole {
		t.Fatalf("chained = %#x, whole = %#x", got, whole)
	}
}

// TestTransportRoundTrip checks that a UDP packet whose checksum is
// filled in verifies, over IPv4 and IPv6.
func TestTransportRoundTrip(t *testing.T) {
	for _, pair := range [][2]string{{"10.0.0.1", "10.0.0.2"}, {"fe80::1", "2001:db8::7"}} {
		src, dst := netip.MustParseAddr(pair[0]), netip.MustParseAddr(pair[1])
		pkt := []byte{0x30, 0x39, 0x00, 0x35, 0x00, 0x0b, 0, 0, 'a', 'b', 'c'}
		c := Transport(src, dst, 17, pkt)
		pkt[6], pkt[7] = byte(c>>8), byte(c)
		if got := Transport(src, dst, 17, pkt); got != 0 {
			t.Errorf("%v: verify = %#x, want 0", pair, got)
		}
	}
}
