package state_test

import (
	"bytes"
	"errors"
	"image"
	"io"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/state"
	"appkernel.dev/appkernel/pkg/state/internal/statetest"
)

func save(t *testing.T, root state.Savable) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := state.Save(&buf, root); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return buf.Bytes()
}

func load(t *testing.T, data []byte, root state.Savable) {
	t.Helper()
	if err := state.Load(bytes.NewReader(data), root); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

func roundTrip[T any, P interface {
	*T
	state.Savable
}](t *testing.T, in P) P {
	t.Helper()
	out := P(new(T))
	load(t, save(t, in), out)
	return out
}

func sampleScalars() statetest.Scalars {
	s := statetest.Scalars{
		B: true, I: math.MinInt, I8: math.MinInt8, I16: math.MaxInt16, I32: math.MinInt32, I64: math.MaxInt64,
		U: math.MaxUint, U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U64: math.MaxUint64,
		UP: 0xdeadbeef, F32: float32(math.Inf(-1)), F64: math.SmallestNonzeroFloat64,
		C64: complex(1.5, -2), C128: complex(math.MaxFloat64, math.Pi),
		S: "héllo\x00wörld", By: 0xff, R: '☃',
		Bytes: []byte{}, Array: [4]byte{1, 2, 3, 4},
	}
	s.SetPrivate(-42)
	return s
}

func TestScalars(t *testing.T) {
	in := sampleScalars()
	out := roundTrip(t, &in)
	if !reflect.DeepEqual(*out, in) {
		t.Errorf("round trip changed scalars:\n got %+v\nwant %+v", *out, in)
	}
	if out.Bytes == nil || out.NilBytes != nil {
		t.Errorf("nil/empty byte slices not preserved: Bytes=%#v NilBytes=%#v", out.Bytes, out.NilBytes)
	}
	if out.Private() != -42 {
		t.Errorf("unexported field = %d, want -42", out.Private())
	}
}

func TestNaN(t *testing.T) {
	in := statetest.Scalars{F64: math.NaN(), F32: float32(math.NaN())}
	out := roundTrip(t, &in)
	if !math.IsNaN(out.F64) || !math.IsNaN(float64(out.F32)) {
		t.Errorf("NaN not preserved: %v %v", out.F64, out.F32)
	}
}

func sampleCollections() *statetest.Collections {
	shared := &statetest.Node{Name: "shared"}
	return &statetest.Collections{
		EmptySlice: []int{},
		Ints:       []int{-1, 0, 1, math.MaxInt},
		Nested:     [][]string{nil, {}, {"a", "b"}},
		Array:      [3]int16{-3, 0, 3},
		Grid:       [2][2]statetest.Flags{{1, 2}, {3, 4}},
		Map:        map[string]int{"one": 1, "two": 2, "": 0},
		EmptyMap:   map[int]bool{},
		PtrMap:     map[int]*statetest.Node{1: shared, 2: shared, 3: nil},
		KeyMap:     map[statetest.Key]string{{A: 1, B: "a"}: "x", {A: 2, B: "b"}: "y"},
		FloatMap:   map[float64]statetest.Flags{-1.5: 1, 0: 2, math.Inf(1): 3},
		Flags:      7,
		FlagSlice:  []statetest.Flags{1, 2},
		Names:      statetest.Names{"n"},
		Modes:      map[statetest.Mode]statetest.Names{1: nil, 2: {"x"}},
	}
}

func TestCollections(t *testing.T) {
	in := sampleCollections()
	out := roundTrip(t, in)
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip changed collections:\n got %+v\nwant %+v", out, in)
	}
	if out.NilSlice != nil || out.EmptySlice == nil || out.NilMap != nil || out.EmptyMap == nil {
		t.Errorf("nil/empty not preserved: %#v %#v %#v %#v", out.NilSlice, out.EmptySlice, out.NilMap, out.EmptyMap)
	}
	if out.Nested[0] != nil || out.Nested[1] == nil {
		t.Errorf("nested nil/empty not preserved: %#v", out.Nested)
	}
	if out.PtrMap[1] != out.PtrMap[2] {
		t.Errorf("map values pointing to one node restored as two")
	}
}

func TestDeterministic(t *testing.T) {
	in := sampleCollections()
	in.KeyMap = nil // struct keys are written in iteration order
	first := save(t, in)
	for range 10 {
		if again := save(t, in); !bytes.Equal(first, again) {
			t.Fatal("saving the same graph twice gave different bytes")
		}
	}
}

func TestSharedPointers(t *testing.T) {
	leaf := &statetest.Node{Name: "leaf"}
	in := &statetest.Node{Name: "root", Next: leaf, Peer: leaf, Kids: []*statetest.Node{leaf, leaf}, Any: leaf}
	out := roundTrip(t, in)
	if out.Next == nil || out.Next.Name != "leaf" {
		t.Fatalf("Next = %+v", out.Next)
	}
	if out.Next != out.Peer || out.Kids[0] != out.Next || out.Kids[1] != out.Next || out.Any != any(out.Next) {
		t.Error("pointers to one node restored as distinct nodes")
	}
}

func TestCycles(t *testing.T) {
	a := &statetest.Node{Name: "a"}
	b := &statetest.Node{Name: "b", Next: a}
	a.Next = b // a -> b -> a
	a.Peer = a // self loop
	b.Kids = []*statetest.Node{a, b}
	b.ByName = map[string]*statetest.Node{"a": a, "self": b}
	a.Any = b // through an interface

	out := roundTrip(t, a)
	ob := out.Next
	switch {
	case ob == nil || ob.Name != "b":
		t.Fatalf("a.Next = %+v", ob)
	case ob.Next != out:
		t.Error("a -> b -> a cycle broken")
	case out.Peer != out:
		t.Error("self loop broken")
	case ob.Kids[0] != out || ob.Kids[1] != ob:
		t.Error("cycle through a slice broken")
	case ob.ByName["a"] != out || ob.ByName["self"] != ob:
		t.Error("cycle through a map broken")
	case out.Any != any(ob):
		t.Error("cycle through an interface broken")
	}
}

// TestRootIdentity checks that pointers back to the root resolve to the
// root Load was given, not to a copy.
func TestRootIdentity(t *testing.T) {
	in := &statetest.Node{Name: "root"}
	in.Kids = []*statetest.Node{in}
	out := roundTrip(t, in)
	if out.Kids[0] != out {
		t.Error("pointer to the root restored as a copy")
	}
}

func TestInterfaces(t *testing.T) {
	sq := &statetest.Square{Side: 3}
	in := &statetest.Holder{
		Shapes: []statetest.Shape{sq, statetest.Rect{W: 2, H: 5}, statetest.Mode(9), nil, (*statetest.Square)(nil)},
		One:    sq,
		Any:    statetest.Names{"x", "y"},
	}
	out := roundTrip(t, in)
	if len(out.Shapes) != 5 {
		t.Fatalf("Shapes = %#v", out.Shapes)
	}
	if got, ok := out.Shapes[0].(*statetest.Square); !ok || got.Side != 3 || out.One != out.Shapes[0] {
		t.Errorf("pointer in interface: got %#v, One %#v", out.Shapes[0], out.One)
	}
	if got, ok := out.Shapes[1].(statetest.Rect); !ok || got != (statetest.Rect{W: 2, H: 5}) {
		t.Errorf("struct value in interface: got %#v", out.Shapes[1])
	}
	if got, ok := out.Shapes[2].(statetest.Mode); !ok || got != 9 {
		t.Errorf("scalar value in interface: got %#v", out.Shapes[2])
	}
	if out.Shapes[3] != nil || out.None != nil || out.Err != nil {
		t.Errorf("nil interfaces: %#v %#v %#v", out.Shapes[3], out.None, out.Err)
	}
	if p, ok := out.Shapes[4].(*statetest.Square); !ok || p != nil {
		t.Errorf("typed nil pointer in interface: got %#v", out.Shapes[4])
	}
	if !reflect.DeepEqual(out.Any, statetest.Names{"x", "y"}) {
		t.Errorf("named slice in interface: got %#v", out.Any)
	}
}

func TestEmbedded(t *testing.T) {
	in := &statetest.Derived{Base: statetest.Base{ID: 5, Tags: []string{"t"}}, Extra: &statetest.Extra{Note: "n"}, Own: "o"}
	out := roundTrip(t, in)
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v, want %+v", out, in)
	}
	if out.ID != 5 || out.Note != "n" {
		t.Errorf("promoted fields: ID %d Note %q", out.ID, out.Note)
	}
}

func TestHooks(t *testing.T) {
	in := &statetest.Hooked{Value: 4, Cache: map[string]int{"stale": 1}, Loaded: 9, Seen: 9}
	out := roundTrip(t, in)
	if in.Saves != 1 || out.Saves != 1 {
		t.Errorf("beforeSave: ran %d times, saved count %d; want 1, 1", in.Saves, out.Saves)
	}
	if out.Loaded != 1 || out.Seen != 0 || !reflect.DeepEqual(out.Cache, map[string]int{"value": 4}) {
		t.Errorf("nosave fields / afterLoad: %+v", out)
	}
}

// TestHooksInLargeSlice makes a slice big enough that Load grows it while
// reading, so hooks registered on elements must follow them.
func TestHooksInLargeSlice(t *testing.T) {
	const n = 100000 // over a megabyte of Hooked
	in := &statetest.Everything{Hooked: make([]statetest.Hooked, n)}
	for i := range in.Hooked {
		in.Hooked[i].Value = i
	}
	out := roundTrip(t, in)
	if len(out.Hooked) != n {
		t.Fatalf("len = %d", len(out.Hooked))
	}
	for i, h := range out.Hooked {
		if h.Value != i || h.Loaded != 1 || h.Cache["value"] != i {
			t.Fatalf("element %d: %+v", i, h)
		}
	}
}

func TestHookedValueInMapRejected(t *testing.T) {
	in := &statetest.HookMap{M: map[string]statetest.Hooked{"a": {Value: 1}}}
	err := state.Load(bytes.NewReader(save(t, in)), &statetest.HookMap{})
	if !errors.Is(err, state.ErrUnsupported) || !strings.Contains(err.Error(), "afterLoad") {
		t.Errorf("Load = %v, want an error about afterLoad hooks in maps", err)
	}
}

func TestForeignTypes(t *testing.T) {
	m := time.March
	in := &statetest.Foreign{
		Timeout: 3 * time.Second,
		Points:  []image.Point{{1, 2}, {-3, 4}},
		Rect:    image.Rect(0, 0, 10, 20),
		ByName:  map[string]image.Point{"o": {}, "x": {1, 0}},
		Month:   &m,
	}
	out := roundTrip(t, in)
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v, want %+v", out, in)
	}
}

func sampleEverything() *statetest.Everything {
	g := &statetest.Node{Name: "g"}
	g.Kids = []*statetest.Node{g, {Name: "k", Any: statetest.Rect{W: 1}}}
	hp := &statetest.Hooked{Value: 7}
	m := time.May
	return &statetest.Everything{
		Scalars:     sampleScalars(),
		Collections: sampleCollections(),
		Graph:       g,
		Derived:     statetest.Derived{Base: statetest.Base{ID: 1}, Extra: &statetest.Extra{Note: "e"}},
		Hooked:      []statetest.Hooked{{Value: 1}, {Value: 2}},
		HookedPtr:   hp,
		Holder:      statetest.Holder{Shapes: []statetest.Shape{&statetest.Square{Side: 2}, statetest.Mode(1)}, Any: g},
		Foreign:     statetest.Foreign{Timeout: time.Minute, Points: []image.Point{{1, 1}}, Month: &m},
	}
}

func TestEverything(t *testing.T) {
	in := sampleEverything()
	out := roundTrip(t, in)
	// Hooks and nosave fields differ by design; compare the rest.
	for i := range in.Hooked {
		in.Hooked[i].Loaded, in.Hooked[i].Cache = 1, map[string]int{"value": in.Hooked[i].Value}
	}
	in.HookedPtr.Loaded, in.HookedPtr.Cache = 1, map[string]int{"value": 7}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v\nwant %+v", out, in)
	}
}

func TestBadMagic(t *testing.T) {
	err := state.Load(strings.NewReader("NOTSTATE\x01"), &statetest.Node{})
	if !errors.Is(err, state.ErrBadMagic) {
		t.Errorf("Load = %v, want ErrBadMagic", err)
	}
}

func TestVersionMismatch(t *testing.T) {
	data := save(t, &statetest.Node{})
	data[8] = state.Version + 1 // the version varint follows the 8-byte magic
	err := state.Load(bytes.NewReader(data), &statetest.Node{})
	want := "state: format version 2, this build reads 1"
	var ve *state.VersionError
	if !errors.As(err, &ve) || err.Error() != want {
		t.Errorf("Load = %v, want %q", err, want)
	}
}

func TestTruncated(t *testing.T) {
	data := save(t, sampleEverything())
	for n := range len(data) {
		err := state.Load(bytes.NewReader(data[:n]), &statetest.Everything{})
		if err == nil {
			t.Fatalf("Load of the first %d of %d bytes succeeded", n, len(data))
		}
		if n >= 9 && !errors.Is(err, state.ErrCorrupt) && !errors.Is(err, state.ErrTypeMismatch) {
			t.Fatalf("Load of %d bytes: %v, want ErrCorrupt", n, err)
		}
	}
}

func TestFlippedBytes(t *testing.T) {
	data := save(t, sampleEverything())
	for i := 9; i < len(data); i++ {
		c := bytes.Clone(data)
		c[i] ^= 0x55
		if err := state.Load(bytes.NewReader(c), &statetest.Everything{}); err == nil {
			t.Fatalf("Load succeeded with byte %d flipped", i)
		}
	}
}

func TestTrailingDataIgnored(t *testing.T) {
	data := append(save(t, &statetest.Square{Side: 2}), "more"...)
	r := bytes.NewReader(data)
	var out statetest.Square
	if err := state.Load(r, &out); err != nil || out.Side != 2 {
		t.Fatalf("Load = %v, %+v", err, out)
	}
}

func TestUnregisteredInterfaceType(t *testing.T) {
	err := state.Save(io.Discard, &statetest.Node{Any: 42})
	if !errors.Is(err, state.ErrUnsupported) || !strings.Contains(err.Error(), "int is stored in an interface but is not registered") {
		t.Errorf("Save = %v", err)
	}
}

func TestUnsavableForeignType(t *testing.T) {
	err := state.Save(io.Discard, &statetest.Unsavable{})
	if !errors.Is(err, state.ErrUnsupported) || !strings.Contains(err.Error(), "image.Uniform") {
		t.Errorf("Save = %v", err)
	}
}

func TestInteriorPointer(t *testing.T) {
	in := &statetest.Interior{}
	in.Whole = in
	in.Part = &in.Pair[1]
	err := state.Save(io.Discard, in)
	if !errors.Is(err, state.ErrUnsupported) || !strings.Contains(err.Error(), "points inside an object of type statetest.Interior") {
		t.Errorf("Save = %v", err)
	}
}

func TestNilRoot(t *testing.T) {
	if err := state.Save(io.Discard, (*statetest.Node)(nil)); err == nil {
		t.Error("Save(nil) succeeded")
	}
	if err := state.Load(strings.NewReader(""), (*statetest.Node)(nil)); err == nil {
		t.Error("Load(nil) succeeded")
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errors.New("disk full")
	}
	w.left -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	in := &statetest.Everything{Hooked: make([]statetest.Hooked, 100000)}
	if err := state.Save(&failingWriter{left: 1000}, in); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Save = %v, want the writer's error", err)
	}
}

func TestWrongRootType(t *testing.T) {
	data := save(t, &statetest.Square{Side: 1})
	err := state.Load(bytes.NewReader(data), &statetest.Rect{})
	if !errors.Is(err, state.ErrTypeMismatch) || !strings.Contains(err.Error(), "statetest.Square where this build expects") {
		t.Errorf("Load = %v", err)
	}
}

// rectV2 stands for statetest.Rect after a field was added.
type rectV2 struct{ W, H, D int }

func (x *rectV2) StateTypeName() string {
	return (*statetest.Rect)(nil).StateTypeName()
}
func (x *rectV2) StateFields() []string { return []string{"W", "H", "D"} }
func (x *rectV2) StateSave(s *state.Sink) {
	s.Begin(x)
	s.Int(int64(x.W))
	s.Int(int64(x.H))
	s.Int(int64(x.D))
}
func (x *rectV2) StateLoad(s *state.Source) {
	s.Begin(x)
	x.W, x.H, x.D = int(s.Int(0)), int(s.Int(0)), int(s.Int(0))
}

func TestSchemaChange(t *testing.T) {
	err := state.Load(bytes.NewReader(save(t, &statetest.Rect{W: 1})), &rectV2{})
	if !errors.Is(err, state.ErrTypeMismatch) || !strings.Contains(err.Error(), `statetest.Rect changed since it was saved: field "D" was added`) {
		t.Errorf("added field: Load = %v", err)
	}
	err = state.Load(bytes.NewReader(save(t, &rectV2{})), &statetest.Rect{})
	if !errors.Is(err, state.ErrTypeMismatch) || !strings.Contains(err.Error(), `field "D" was removed`) {
		t.Errorf("removed field: Load = %v", err)
	}
}

func TestDepthLimit(t *testing.T) {
	// Node values nested through interfaces are values, not objects, so
	// each level nests deeper inside one object.
	var v any
	for range state.MaxDepth + 10 {
		v = statetest.Node{Any: v}
	}
	data := save(t, &statetest.Node{Any: v})
	err := state.Load(bytes.NewReader(data), &statetest.Node{})
	if !errors.Is(err, state.ErrCorrupt) || !strings.Contains(err.Error(), "nest deeper") {
		t.Errorf("Load = %v", err)
	}
}

func TestHugeLengthSmallInput(t *testing.T) {
	// A Bytes field claiming 4 GiB in a tiny stream must fail without
	// allocating it.
	data := save(t, &statetest.Scalars{Bytes: []byte("abc")})
	i := bytes.Index(data, []byte("\x04abc"))
	if i < 0 {
		t.Fatal("cannot find the byte slice in the stream")
	}
	forged := append(bytes.Clone(data[:i]), 0x80, 0x80, 0x80, 0x80, 0x10) // uvarint 1<<32
	forged = append(forged, data[i+1:]...)
	var before, after runtimeMem
	before.read()
	err := state.Load(bytes.NewReader(forged), &statetest.Scalars{})
	after.read()
	if !errors.Is(err, state.ErrCorrupt) {
		t.Errorf("Load = %v", err)
	}
	if grew := after.total - before.total; grew > 64<<20 {
		t.Errorf("Load allocated %d bytes for a %d-byte stream", grew, len(forged))
	}
}

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	m.total = st.TotalAlloc
}

func FuzzLoad(f *testing.F) {
	f.Add(save(&testing.T{}, sampleEverything()))
	f.Add(save(&testing.T{}, &statetest.Everything{}))
	f.Add([]byte("AKSTATE\n\x01"))
	f.Add([]byte("AKSTATE\n\x01\x01\x00\x00"))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = state.Load(bytes.NewReader(data), &statetest.Everything{})
	})
}

func benchGraph() *statetest.Node {
	root := &statetest.Node{Name: "root", ByName: map[string]*statetest.Node{}}
	prev := root
	for i := range 10000 {
		n := &statetest.Node{Name: "n", Peer: root, Any: statetest.Rect{W: i}}
		prev.Next = n
		root.Kids = append(root.Kids, n)
		prev = n
	}
	return root
}

func BenchmarkSave(b *testing.B) {
	root := benchGraph()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := state.Save(&buf, root); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "stream-bytes")
}

func BenchmarkLoad(b *testing.B) {
	var buf bytes.Buffer
	if err := state.Save(&buf, benchGraph()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := state.Load(bytes.NewReader(buf.Bytes()), &statetest.Node{}); err != nil {
			b.Fatal(err)
		}
	}
}
