package state

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"unsafe"
)

// Reflection covers plain-data types from packages that do not run the
// generator (pkg/abi, the standard library). It encodes each kind of value
// as generated code does; structs get a type reference listing all their
// fields, so a foreign struct that changes shape is still caught on load.

var (
	savableType = reflect.TypeFor[Savable]()
	byteType    = reflect.TypeFor[byte]()
)

// reflectTypeName names a type the way generated StateTypeName methods do.
func reflectTypeName(t reflect.Type) string {
	if t.Name() != "" && t.PkgPath() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}

func reflectFields(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Name
	}
	return names
}

// field returns a settable view of struct field i even when it is unexported:
// state saves a type's whole state, not just its API.
func field(v reflect.Value, i int) reflect.Value {
	f := v.Type().Field(i)
	return reflect.NewAt(f.Type, unsafe.Add(unsafe.Pointer(v.UnsafeAddr()), f.Offset)).Elem()
}

// asSavable returns v's address as a Savable if *T implements it. v must be
// addressable.
func asSavable(v reflect.Value) (Savable, bool) {
	if !reflect.PointerTo(v.Type()).Implements(savableType) {
		return nil, false
	}
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Interface().(Savable), true
}

// addressable copies v into a new variable if it is not addressable, as map
// keys and values are not.
func addressable(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		return v
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}

// plainChecked caches checkPlain's verdict per type.
var plainChecked sync.Map // reflect.Type -> plainVerdict

type plainVerdict struct{ err error }

// checkPlain reports whether reflection can save t: it must not contain
// pointers, interfaces, channels or functions outside savable types, since
// only generated code knows how to give those identity or a concrete type.
func checkPlain(t reflect.Type) error {
	if v, ok := plainChecked.Load(t); ok {
		return v.(plainVerdict).err
	}
	err := walkPlain(t, reflectTypeName(t), map[reflect.Type]bool{})
	plainChecked.Store(t, plainVerdict{err})
	return err
}

func walkPlain(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if seen[t] || reflect.PointerTo(t).Implements(savableType) {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Array, reflect.Slice:
		return walkPlain(t.Elem(), path+"[]", seen)
	case reflect.Map:
		if err := walkPlain(t.Key(), path+"[key]", seen); err != nil {
			return err
		}
		return walkPlain(t.Elem(), path+"[value]", seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if err := walkPlain(f.Type, path+"."+f.Name, seen); err != nil {
				return err
			}
		}
	case reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return fmt.Errorf("%w: %s has type %v, and only types marked +stateify savable may hold a %v (or mark the field +state:nosave)",
			ErrUnsupported, path, t, t.Kind())
	}
	return nil
}

func (s *Sink) saveReflect(v reflect.Value) {
	if sv, ok := asSavable(v); ok {
		sv.StateSave(s)
		return
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Bool:
		s.Bool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s.Int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		s.Uint(v.Uint())
	case reflect.Float32:
		s.Float32(float32(v.Float()))
	case reflect.Float64:
		s.Float64(v.Float())
	case reflect.Complex64:
		s.Complex64(complex64(v.Complex()))
	case reflect.Complex128:
		s.Complex128(v.Complex())
	case reflect.String:
		s.String(v.String())
	case reflect.Array:
		if t.Elem() == byteType {
			s.ByteArray(unsafe.Slice((*byte)(unsafe.Pointer(v.UnsafeAddr())), v.Len()))
			return
		}
		for i := range v.Len() {
			s.saveReflect(v.Index(i))
		}
	case reflect.Slice:
		if v.IsNil() {
			s.uvarint(0)
			return
		}
		if t.Elem() == byteType {
			s.Bytes(v.Bytes())
			return
		}
		s.uvarint(uint64(v.Len()) + 1)
		for i := range v.Len() {
			s.saveReflect(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			s.uvarint(0)
			return
		}
		s.uvarint(uint64(v.Len()) + 1)
		keys := v.MapKeys()
		if compare := reflectKeyOrder(t.Key()); compare != nil {
			slices.SortFunc(keys, compare)
		}
		for _, k := range keys {
			s.saveReflect(addressable(k))
			s.saveReflect(addressable(v.MapIndex(k)))
		}
	case reflect.Struct:
		s.typeRef(reflectTypeName(t), func() []string { return reflectFields(t) })
		for i := range t.NumField() {
			s.saveReflect(field(v, i))
		}
	default:
		panic("state: saveReflect reached a " + t.Kind().String() + " that checkPlain let through")
	}
}

func (s *Source) loadReflect(v reflect.Value) {
	if sv, ok := asSavable(v); ok {
		sv.StateLoad(s)
		return
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(s.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(s.Int(int(t.Size() * 8)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(s.Uint(int(t.Size() * 8)))
	case reflect.Float32:
		v.SetFloat(float64(s.Float32()))
	case reflect.Float64:
		v.SetFloat(s.Float64())
	case reflect.Complex64:
		v.SetComplex(complex128(s.Complex64()))
	case reflect.Complex128:
		v.SetComplex(s.Complex128())
	case reflect.String:
		v.SetString(s.String())
	case reflect.Array:
		if t.Elem() == byteType {
			s.ByteArray(unsafe.Slice((*byte)(unsafe.Pointer(v.UnsafeAddr())), v.Len()))
			return
		}
		for i := range v.Len() {
			s.loadReflect(v.Index(i))
		}
	case reflect.Slice:
		s.loadReflectSlice(v)
	case reflect.Map:
		s.loadReflectMap(v)
	case reflect.Struct:
		def := s.typeRef()
		s.check(def, reflectTypeName(t), func() []string { return reflectFields(t) })
		for i := range t.NumField() {
			s.loadReflect(field(v, i))
		}
	default:
		panic("state: loadReflect reached a " + t.Kind().String() + " that checkPlain let through")
	}
}

func (s *Source) loadReflectSlice(v reflect.Value) {
	t := v.Type()
	if t.Elem() == byteType {
		b := s.Bytes()
		if b == nil {
			v.SetZero()
		} else {
			v.SetBytes(b)
		}
		return
	}
	n, ok := s.length()
	if !ok {
		v.SetZero()
		return
	}
	s.enter()
	defer s.leave()
	size := t.Elem().Size()
	capacity := n
	if size > 0 && uintptr(n) > maxPrealloc/size {
		capacity = max(1, int(maxPrealloc/size))
	}
	out := reflect.MakeSlice(t, 0, capacity)
	firstHook := len(s.hooks)
	for i := 0; i < n; i++ {
		if out.Len() == out.Cap() {
			grown := reflect.MakeSlice(t, out.Len(), min(2*out.Cap(), n))
			reflect.Copy(grown, out)
			s.rebaseHooks(firstHook, out.UnsafePointer(), uintptr(out.Len())*size, grown.UnsafePointer())
			out = grown
		}
		out = out.Slice(0, i+1)
		start := s.in.offset()
		s.loadReflect(out.Index(i))
		s.progress(start)
	}
	v.Set(out)
}

func (s *Source) loadReflectMap(v reflect.Value) {
	n, ok := s.length()
	if !ok {
		v.SetZero()
		return
	}
	s.enter()
	defer s.leave()
	t := v.Type()
	m := reflect.MakeMapWithSize(t, min(n, 1024))
	for range n {
		k := reflect.New(t.Key()).Elem()
		e := reflect.New(t.Elem()).Elem()
		hooks, start := len(s.hooks), s.in.offset()
		s.loadReflect(k)
		s.loadReflect(e)
		s.noHooksSince(hooks, "a map")
		if m.MapIndex(k).IsValid() {
			s.corrupt("duplicate map key")
		}
		m.SetMapIndex(k, e)
		s.progress(start)
	}
	v.Set(m)
}

// reflectKeyOrder matches keyOrder for reflected map keys.
func reflectKeyOrder(t reflect.Type) func(a, b reflect.Value) int {
	switch t.Kind() {
	case reflect.Bool:
		return func(a, b reflect.Value) int {
			x, y := a.Bool(), b.Bool()
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(a, b reflect.Value) int { return cmp.Compare(a.Int(), b.Int()) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(a, b reflect.Value) int { return cmp.Compare(a.Uint(), b.Uint()) }
	case reflect.Float32, reflect.Float64:
		return func(a, b reflect.Value) int { return cmp.Compare(a.Float(), b.Float()) }
	case reflect.String:
		return func(a, b reflect.Value) int { return cmp.Compare(a.String(), b.String()) }
	}
	return nil
}
