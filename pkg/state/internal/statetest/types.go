// Package statetest holds savable types that exercise every encoding path of
// pkg/state. They live in a non-test file so that tools/stateify, which
// ignores _test.go files, generates their methods like any kernel package's;
// the committed output doubles as the generator's golden file.
package statetest

import (
	"image"
	"time"
)

//go:generate go run appkernel.dev/appkernel/tools/stateify

// Scalars has a field of every scalar kind.
//
// +stateify savable
type Scalars struct {
	B    bool
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U16  uint16
	U32  uint32
	U64  uint64
	UP   uintptr
	F32  float32
	F64  float64
	C64  complex64
	C128 complex128
	S    string
	By   byte
	R    rune

	Bytes    []byte
	NilBytes []byte
	Array    [4]byte
	private  int32
}

// SetPrivate and Private reach the unexported field from tests.
func (s *Scalars) SetPrivate(v int32) { s.private = v }
func (s *Scalars) Private() int32     { return s.private }

// Flags is a local named type without the directive: the generator saves it
// as its underlying type.
type Flags uint32

// Mode is a named scalar with the directive, so it can live in interfaces.
//
// +stateify savable
type Mode uint16

// Names is a named slice type with the directive.
//
// +stateify savable
type Names []string

// Key is a struct used as a map key, so map order follows iteration order.
//
// +stateify savable
type Key struct {
	A int
	B string
}

// Collections covers slices, arrays and maps.
//
// +stateify savable
type Collections struct {
	NilSlice   []int
	EmptySlice []int
	Ints       []int
	Nested     [][]string
	Array      [3]int16
	Grid       [2][2]Flags
	Map        map[string]int
	NilMap     map[int]bool
	EmptyMap   map[int]bool
	PtrMap     map[int]*Node
	KeyMap     map[Key]string
	FloatMap   map[float64]Flags
	Flags      Flags
	FlagSlice  []Flags
	Names      Names
	Modes      map[Mode]Names
}

// Node is a graph vertex: pointers may be shared and may form cycles,
// directly or through slices, maps and interfaces.
//
// +stateify savable
type Node struct {
	Name   string
	Next   *Node
	Peer   *Node
	Kids   []*Node
	ByName map[string]*Node
	Any    any
}

// Base is embedded by value in Derived.
//
// +stateify savable
type Base struct {
	ID   int
	Tags []string
}

// Extra is embedded by pointer in Derived.
//
// +stateify savable
type Extra struct {
	Note string
}

// Derived embeds structs by value and by pointer.
//
// +stateify savable
type Derived struct {
	Base
	*Extra
	Own string
}

// Hooked records its hooks being called.
//
// +stateify savable
type Hooked struct {
	Value int
	// Saves counts beforeSave calls; it is saved, so the stream shows
	// the hook ran first.
	Saves int

	Cache  map[string]int // +state:nosave
	Loaded int            // +state:nosave
	Seen   int            `state:"nosave"`
}

func (h *Hooked) beforeSave() { h.Saves++ }

func (h *Hooked) afterLoad() {
	h.Loaded++
	h.Cache = map[string]int{"value": h.Value}
}

// Shape is an interface implemented by pointer and value types.
type Shape interface {
	Area() int
}

// Square implements Shape with a pointer receiver.
//
// +stateify savable
type Square struct {
	Side int
}

func (s *Square) Area() int { return s.Side * s.Side }

// Rect implements Shape with a value receiver, so a Rect value fits too.
//
// +stateify savable
type Rect struct {
	W, H int
}

func (r Rect) Area() int { return r.W * r.H }

// Area makes Mode a Shape too, so a scalar value can sit in an interface.
func (m Mode) Area() int { return int(m) }

// Holder holds interfaces.
//
// +stateify savable
type Holder struct {
	Shapes []Shape
	One    Shape
	None   Shape
	Any    any
	Err    error
}

// Foreign holds types from packages the generator cannot see into, which
// pkg/state saves by reflection.
//
// +stateify savable
type Foreign struct {
	Timeout time.Duration
	Points  []image.Point
	Rect    image.Rectangle
	ByName  map[string]image.Point
	Month   *time.Month
}

// Everything is a root reaching every other type, for round trips, fuzzing
// and truncation tests.
//
// +stateify savable
type Everything struct {
	Scalars     Scalars
	Collections *Collections
	Graph       *Node
	Derived     Derived
	Hooked      []Hooked
	HookedPtr   *Hooked
	Holder      Holder
	Foreign     Foreign
}

// Interior points into another object, which pkg/state refuses.
//
// +stateify savable
type Interior struct {
	Pair  [2]int
	Whole *Interior
	Part  *int
}

// Unsavable holds a type only reflection would see, with a pointer in it.
//
// +stateify savable
type Unsavable struct {
	Value image.Uniform // holds a color.Color interface
}

// HookMap stores hooked values directly in a map, which Load rejects because
// the hooks would run on copies.
//
// +stateify savable
type HookMap struct {
	M map[string]Hooked
}
