package linux

import (
	"bytes"
	"context"
	"testing"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
)

// flatMemory is user memory [0, len) with everything above unmapped.
type flatMemory []byte

func (m flatMemory) CopyIn(addr uintptr, dst []byte) (int, error) {
	if addr >= uintptr(len(m)) {
		return 0, abilinux.EFAULT
	}
	n := copy(dst, m[addr:])
	if n < len(dst) {
		return n, abilinux.EFAULT
	}
	return n, nil
}

func (m flatMemory) CopyOut(addr uintptr, src []byte) (int, error) {
	if addr >= uintptr(len(m)) {
		return 0, abilinux.EFAULT
	}
	n := copy(m[addr:], src)
	if n < len(src) {
		return n, abilinux.EFAULT
	}
	return n, nil
}

func TestIovecSequenceScatterGather(t *testing.T) {
	mem := make(flatMemory, 64)
	s := newIovecSequence(mem, []abilinux.Iovec{{Base: 10, Len: 3}, {Base: 0, Len: 0}, {Base: 30, Len: 4}})
	if s.NumBytes() != 7 {
		t.Fatalf("NumBytes = %d, want 7", s.NumBytes())
	}
	n, err := s.CopyOut(context.Background(), []byte("abcdefgXYZ"))
	if n != 7 || err != nil {
		t.Fatalf("CopyOut = %d, %v", n, err)
	}
	if string(mem[10:13]) != "abc" || string(mem[30:34]) != "defg" {
		t.Fatalf("memory = %q / %q", mem[10:13], mem[30:34])
	}
	// DropFirst inside the first iovec, then across into the second.
	rest := s.DropFirst(2)
	if rest.NumBytes() != 5 {
		t.Fatalf("after DropFirst(2): %d bytes", rest.NumBytes())
	}
	buf := make([]byte, 10)
	n, err = rest.CopyIn(context.Background(), buf)
	if n != 5 || err != nil || string(buf[:5]) != "cdefg" {
		t.Fatalf("CopyIn = %d, %v, %q", n, err, buf[:n])
	}
	rest = s.DropFirst(4)
	n, _ = rest.CopyIn(context.Background(), buf)
	if string(buf[:n]) != "efg" {
		t.Fatalf("DropFirst(4) reads %q", buf[:n])
	}
	if s.DropFirst(7).NumBytes() != 0 || s.DropFirst(100).NumBytes() != 0 {
		t.Fatal("dropping everything leaves bytes")
	}
	// The original is unchanged by DropFirst.
	n, _ = s.CopyIn(context.Background(), buf)
	if string(buf[:n]) != "abcdefg" {
		t.Fatalf("original reads %q", buf[:n])
	}
}

func TestIovecSequencePartialFault(t *testing.T) {
	mem := make(flatMemory, 16)
	s := newIovecSequence(mem, []abilinux.Iovec{{Base: 12, Len: 2}, {Base: 14, Len: 8}})
	n, err := s.CopyOut(context.Background(), bytes.Repeat([]byte{'x'}, 10))
	if n != 4 || err != abilinux.EFAULT {
		t.Fatalf("CopyOut = %d, %v; want 4, EFAULT", n, err)
	}
	s = newIovecSequence(mem, []abilinux.Iovec{{Base: 100, Len: 2}})
	if n, err := s.CopyIn(context.Background(), make([]byte, 2)); n != 0 || err != abilinux.EFAULT {
		t.Fatalf("CopyIn of unmapped = %d, %v", n, err)
	}
}

func TestIovecSequenceCap(t *testing.T) {
	mem := make(flatMemory, 0)
	s := newIovecSequence(mem, []abilinux.Iovec{{Base: 0, Len: abilinux.MAX_RW_COUNT - 10}, {Base: 0, Len: 100}, {Base: 0, Len: 5}})
	if s.NumBytes() != abilinux.MAX_RW_COUNT {
		t.Fatalf("NumBytes = %d, want MAX_RW_COUNT", s.NumBytes())
	}
	if len(s.iovs) != 2 || s.iovs[1].Len != 10 {
		t.Fatalf("iovs = %+v", s.iovs)
	}
}

func TestSingleSequence(t *testing.T) {
	mem := make(flatMemory, 16)
	const maxAddr = 1 << 47
	if _, err := newSingleSequence(mem, maxAddr, maxAddr-4, 8); err != abilinux.EFAULT {
		t.Fatalf("past the address space: %v", err)
	}
	if _, err := newSingleSequence(mem, maxAddr, 1, ^uint64(0)); err != abilinux.EFAULT {
		t.Fatalf("huge length: %v", err)
	}
	s, err := newSingleSequence(mem, maxAddr, 0, 1<<40)
	if err != nil || s.NumBytes() != abilinux.MAX_RW_COUNT {
		t.Fatalf("capped length: %v, %d", err, s.NumBytes())
	}
	if s, err := newSingleSequence(mem, maxAddr, maxAddr+5, 0); err != nil || s.NumBytes() != 0 {
		t.Fatalf("empty buffer anywhere: %v", err)
	}
}
