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

func TestShortIPOpt(t *testing.T) {
	v := func(x int32) []byte { return socket.Int32Bytes(x) }
	for _, tc := range []struct {
		level, name, optlen int
		val                 []byte
		want                int
	}{
		{0, 2, 2, v(200), 1},       // IP_TTL fits in a byte
		{0, 2, 4, v(200), 4},       // room for the int
		{0, 2, 0, v(200), 4},       // nothing asked: the caller copies none
		{0, 1, 3, v(-1), 4},        // does not fit in a byte
		{0, 32, 2, v(1), 4},        // IP_MULTICAST_IF is an address
		{41, 67, 2, v(0x40), 4},    // IPv6 copies what fits
		{1, 3, 1, v(2), 4},         // SOL_SOCKET too
		{0, 8, 1, []byte{1, 0}, 2}, // not an int
	} {
		if got := len(shortIPOpt(tc.level, tc.name, tc.optlen, tc.val)); got != tc.want {
			t.Errorf("shortIPOpt(%d, %d, %d, %x) has %d bytes, want %d", tc.level, tc.name, tc.optlen, tc.val, got, tc.want)
		}
	}
}
