package marshal

import (
	"bytes"
	"testing"
)

func TestScalarsRoundTrip(t *testing.T) {
	i32 := Int32(-2)
	u64 := Uint64(0x0102030405060708)
	u16 := Uint16(0xbeef)
	buf := make([]byte, 4+8+2+1)
	rest := i32.MarshalBytes(buf)
	rest = u64.MarshalBytes(rest)
	rest = u16.MarshalBytes(rest)
	if len(rest) != 1 {
		t.Fatalf("rest = %d bytes, want 1", len(rest))
	}
	want := []byte{0xfe, 0xff, 0xff, 0xff, 8, 7, 6, 5, 4, 3, 2, 1, 0xef, 0xbe, 0}
	if !bytes.Equal(buf, want) {
		t.Fatalf("got % x, want % x", buf, want)
	}
	var a Int32
	var b Uint64
	var c Uint16
	c.UnmarshalBytes(b.UnmarshalBytes(a.UnmarshalBytes(buf)))
	if a != i32 || b != u64 || c != u16 {
		t.Fatalf("round trip gave %v %v %v", a, b, c)
	}
}

func TestSlices(t *testing.T) {
	in := []Uint32{1, 2, 0xffffffff}
	if n := SliceSize[Uint32](len(in)); n != 12 {
		t.Fatalf("SliceSize = %d", n)
	}
	buf := make([]byte, 12)
	if rest := MarshalSlice(buf, in); len(rest) != 0 {
		t.Fatalf("rest %d", len(rest))
	}
	out := make([]Uint32, 3)
	UnmarshalSlice(buf, out)
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("element %d: %v != %v", i, out[i], in[i])
		}
	}
}

func TestUnmarshalLength(t *testing.T) {
	var v Uint64
	if err := Unmarshal(&v, make([]byte, 7)); err == nil {
		t.Fatal("short buffer accepted")
	}
	if err := Unmarshal(&v, Marshal(new(Uint64))); err != nil {
		t.Fatal(err)
	}
}
