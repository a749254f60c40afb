package unix

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

func TestCheckType(t *testing.T) {
	for _, tc := range []struct {
		stype, protocol, want int
		err                   error
	}{
		{socket.SOCK_STREAM, 0, socket.SOCK_STREAM, nil},
		{socket.SOCK_SEQPACKET, socket.AF_UNIX, socket.SOCK_SEQPACKET, nil},
		{socket.SOCK_RAW, 0, socket.SOCK_DGRAM, nil},
		{socket.SOCK_STREAM, 6, 0, linux.EPROTONOSUPPORT},
		{4, 0, 0, linux.ESOCKTNOSUPPORT},
	} {
		got, err := checkType(tc.stype, tc.protocol)
		if err != tc.err || (err == nil && got != tc.want) {
			t.Errorf("checkType(%d, %d) = %d, %v; want %d, %v", tc.stype, tc.protocol, got, err, tc.want, tc.err)
		}
	}
}

func TestFamiliesLookup(t *testing.T) {
	var f socket.Families
	if _, err := f.Lookup(socket.AF_UNIX); err != linux.EAFNOSUPPORT {
		t.Fatalf("empty Lookup = %v, want EAFNOSUPPORT", err)
	}
	f.Register(socket.AF_UNIX, Provider{})
	if _, err := f.Lookup(socket.AF_UNIX); err != nil {
		t.Fatalf("Lookup after Register: %v", err)
	}
	if _, err := f.Lookup(socket.AF_INET); err != linux.EAFNOSUPPORT {
		t.Fatalf("Lookup(AF_INET) = %v, want EAFNOSUPPORT", err)
	}
}
