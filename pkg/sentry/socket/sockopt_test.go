package socket

import (
	"encoding/binary"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func timeval(sec, usec int64) []byte {
	b := make([]byte, SizeofTimeval)
	binary.LittleEndian.PutUint64(b, uint64(sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(usec))
	return b
}

func TestTimeval(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		d    time.Duration
		want error
	}{
		{timeval(1, 500000), 1500 * time.Millisecond, nil},
		{timeval(0, 0), 0, nil},
		{timeval(-5, 0), time.Nanosecond, nil}, // immediate, not "none"
		{timeval(1<<62, 0), 0, nil},
		{timeval(0, 1000000), 0, linux.EDOM},
		{timeval(0, -1), 0, linux.EDOM},
		{timeval(1, 0)[:8], 0, linux.EINVAL},
	} {
		d, err := ParseTimeval(c.in)
		if err != c.want || d != c.d {
			t.Errorf("ParseTimeval(%x) = %v, %v; want %v, %v", c.in, d, err, c.d, c.want)
		}
	}
	if got := TimevalBytes(1500 * time.Millisecond); string(got) != string(timeval(1, 500000)) {
		t.Errorf("TimevalBytes = %x", got)
	}
}

func TestOptions(t *testing.T) {
	o := DefaultOptions()
	get := func(name int) int32 {
		v, ok := o.Get(name)
		if !ok {
			t.Fatalf("Get(%d): not known", name)
		}
		return int32(binary.LittleEndian.Uint32(v))
	}
	if get(SO_RCVLOWAT) != 1 || get(SO_SNDLOWAT) != 1 || get(SO_REUSEADDR) != 0 {
		t.Errorf("defaults: rcvlowat %d sndlowat %d reuseaddr %d", get(SO_RCVLOWAT), get(SO_SNDLOWAT), get(SO_REUSEADDR))
	}
	for _, name := range []int{SO_REUSEADDR, SO_KEEPALIVE, SO_BROADCAST, SO_OOBINLINE, SO_DONTROUTE} {
		if ok, err := o.Set(name, Int32Bytes(5)); !ok || err != nil {
			t.Errorf("Set(%d, 5) = %v, %v", name, ok, err)
		}
		if get(name) != 1 {
			t.Errorf("Get(%d) = %d after setting 5, want 1", name, get(name))
		}
	}
	if _, err := o.Set(SO_PRIORITY, Int32Bytes(7)); err != linux.EPERM {
		t.Errorf("SO_PRIORITY 7: %v, want EPERM", err)
	}
	if _, err := o.Set(SO_SNDLOWAT, Int32Bytes(2)); err != linux.ENOPROTOOPT {
		t.Errorf("SO_SNDLOWAT: %v, want ENOPROTOOPT", err)
	}
	if _, err := o.Set(SO_KEEPALIVE, []byte{1}); err != linux.EINVAL {
		t.Errorf("short int: %v, want EINVAL", err)
	}
	if ok, _ := o.Set(SO_PASSCRED, Int32Bytes(1)); ok {
		t.Errorf("SO_PASSCRED is each family's own, Set took it")
	}
	if _, err := o.Set(SO_RCVTIMEO, timeval(2, 0)); err != nil || o.RcvTimeo != 2*time.Second {
		t.Errorf("SO_RCVTIMEO: %v, %v", err, o.RcvTimeo)
	}
}
