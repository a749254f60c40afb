package linux

import (
	"testing"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

func TestSocketType(t *testing.T) {
	for _, tc := range []struct {
		typ               int32
		stype             int
		nonblock, cloexec bool
		err               error
	}{
		{socket.SOCK_STREAM, socket.SOCK_STREAM, false, false, nil},
		{socket.SOCK_SEQPACKET | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, socket.SOCK_SEQPACKET, true, true, nil},
		{socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, socket.SOCK_DGRAM, false, true, nil},
		{socket.SOCK_STREAM | 0x100000, 0, false, false, abilinux.EINVAL},
	} {
		stype, nb, ce, err := socketType(tc.typ)
		if err != tc.err || (err == nil && (stype != tc.stype || nb != tc.nonblock || ce != tc.cloexec)) {
			t.Errorf("socketType(%#x) = %d, %v, %v, %v; want %d, %v, %v, %v", tc.typ, stype, nb, ce, err, tc.stype, tc.nonblock, tc.cloexec, tc.err)
		}
	}
}
