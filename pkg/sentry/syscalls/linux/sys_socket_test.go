package linux

import (
	"testing"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

func TestSocketType(t *testing.T) {
	for _, tc := range []struct {
		domain, typ, proto int32
		stype              int
		nonblock, cloexec  bool
		err                error
	}{
		{socket.AF_UNIX, socket.SOCK_STREAM, 0, socket.SOCK_STREAM, false, false, nil},
		{socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0, socket.SOCK_SEQPACKET, true, true, nil},
		{socket.AF_UNIX, socket.SOCK_RAW, socket.AF_UNIX, socket.SOCK_DGRAM, false, false, nil},
		{socket.AF_UNIX, socket.SOCK_STREAM | 0x100000, 0, 0, false, false, abilinux.EINVAL},
		{socket.AF_INET, socket.SOCK_STREAM, 0, 0, false, false, abilinux.EAFNOSUPPORT},
		{socket.AF_UNIX, socket.SOCK_STREAM, 6, 0, false, false, abilinux.EPROTONOSUPPORT},
		{socket.AF_UNIX, 4, 0, 0, false, false, abilinux.ESOCKTNOSUPPORT},
	} {
		stype, nb, ce, err := socketType(tc.domain, tc.typ, tc.proto)
		if err != tc.err || (err == nil && (stype != tc.stype || nb != tc.nonblock || ce != tc.cloexec)) {
			t.Errorf("socketType(%d, %#x, %d) = %d, %v, %v, %v; want %d, %v, %v, %v", tc.domain, tc.typ, tc.proto, stype, nb, ce, err, tc.stype, tc.nonblock, tc.cloexec, tc.err)
		}
	}
}
