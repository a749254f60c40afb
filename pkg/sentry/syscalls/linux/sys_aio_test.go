package linux

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
)

func TestDecodeIocb(t *testing.T) {
	var b [iocbSize]byte
	le := binary.LittleEndian
	le.PutUint64(b[0:], 0x1122334455667788)
	le.PutUint32(b[8:], 7)
	le.PutUint32(b[12:], abilinux.RWF_NOWAIT)
	le.PutUint16(b[16:], iocbCmdPwritev)
	le.PutUint16(b[18:], 0xffff)
	le.PutUint32(b[20:], 9)
	le.PutUint64(b[24:], 0xdead0000)
	le.PutUint64(b[32:], 3)
	le.PutUint64(b[40:], uint64(0xfffffffffffffff0))
	le.PutUint64(b[48:], 1)
	le.PutUint32(b[56:], iocbFlagResfd)
	le.PutUint32(b[60:], 5)
	got := decodeIocb(b[:])
	want := iocb{
		data: 0x1122334455667788, key: 7, rwFlags: abilinux.RWF_NOWAIT, opcode: iocbCmdPwritev,
		reqprio: -1, fildes: 9, buf: 0xdead0000, nbytes: 3, offset: -16, reserved: 1,
		flags: iocbFlagResfd, resfd: 5,
	}
	if got != want {
		t.Errorf("decodeIocb = %+v, want %+v", got, want)
	}
}

func TestAIODuration(t *testing.T) {
	for _, tc := range []struct {
		sec, nsec int64
		want      time.Duration
	}{
		{0, 0, 0},
		{1, 500, time.Second + 500},
		{0, 2_000_000_000, 2 * time.Second},
		{-1, 0, -time.Second},
		{math.MaxInt64, 0, math.MaxInt64},
		{math.MaxInt64 / int64(time.Second), 0, math.MaxInt64},
		{math.MaxInt64/int64(time.Second) - 1, math.MaxInt64, math.MaxInt64},
	} {
		if got := aioDuration(tc.sec, tc.nsec); got != tc.want {
			t.Errorf("aioDuration(%d, %d) = %d, want %d", tc.sec, tc.nsec, got, tc.want)
		}
	}
}

func TestCheckSyncFileRange(t *testing.T) {
	const maxOff = math.MaxInt64
	for _, tc := range []struct {
		off, n int64
		flags  uint32
		mode   abilinux.FileMode
		want   error
	}{
		{0, 0, 7, abilinux.S_IFREG, nil},
		{0, 0, 8, abilinux.S_IFREG, abilinux.EINVAL},
		{-1, 0, 0, abilinux.S_IFREG, abilinux.EINVAL},
		{0, -1, 0, abilinux.S_IFREG, abilinux.EINVAL},
		{maxOff - 10, 10, 0, abilinux.S_IFREG, nil},
		{maxOff - 10, 11, 0, abilinux.S_IFREG, abilinux.EINVAL},
		{0, 0, 0, abilinux.S_IFDIR, nil},
		{0, 0, 0, abilinux.S_IFBLK, nil},
		{0, 0, 0, abilinux.S_IFLNK, nil},
		{0, 0, 0, abilinux.S_IFIFO, abilinux.ESPIPE},
		{0, 0, 0, abilinux.S_IFSOCK, abilinux.ESPIPE},
		{0, 0, 0, abilinux.S_IFCHR, abilinux.ESPIPE},
		{0, 0, 16, abilinux.S_IFIFO, abilinux.EINVAL},
	} {
		if got := checkSyncFileRange(tc.off, tc.n, tc.flags, tc.mode); got != tc.want {
			t.Errorf("checkSyncFileRange(%d, %d, %#x, %#o) = %v, want %v", tc.off, tc.n, tc.flags, tc.mode, got, tc.want)
		}
	}
}
