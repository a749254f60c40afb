package state

import (
	"cmp"
	"reflect"
	"slices"
	"unsafe"
)

// The functions here are called by generated code for fields whose types are
// not scalars. Where they take a per-element function, it has the shape of
// a method expression, func(*T, *Sink) or func(*T, *Source), so generated
// code can pass (*T).StateSave directly.

// maxPrealloc bounds the memory allocated for a collection before its
// elements have been read, so a short stream cannot claim a huge one.
const maxPrealloc = 1 << 20

// SavePointer writes a pointer; the pointee is written later as an object of
// its own, once, however many pointers lead to it.
func SavePointer[P ~*T, T any](s *Sink, p P, save func(*T, *Sink)) {
	if p == nil {
		s.uvarint(0)
		return
	}
	pt := (*T)(p)
	id, fresh := s.reference(unsafe.Pointer(pt), reflect.TypeFor[T]())
	if fresh {
		s.objects[id-1].save = func() { save(pt, s) }
	}
	s.uvarint(id)
}

// LoadPointer reads a pointer written by SavePointer. A pointee seen for the
// first time is allocated now and filled when its object comes up.
func LoadPointer[P ~*T, T any](s *Source, dst *P, load func(*T, *Source)) {
	id := s.uvarint()
	switch {
	case id == 0:
		*dst = nil
	case id <= uint64(len(s.objects)):
		slot := &s.objects[id-1]
		p, ok := slot.obj.(*T)
		if !ok {
			s.corrupt("object %d is a %v, referenced as a %v", id, slot.typ, reflect.TypeFor[T]())
		}
		*dst = p
	case id == uint64(len(s.objects))+1:
		p := new(T)
		s.objects = append(s.objects, loadSlot{obj: p, typ: reflect.TypeFor[T](), load: func() { load(p, s) }})
		*dst = p
	default:
		s.corrupt("reference to object %d before object %d", id, len(s.objects)+1)
	}
}

// SaveSlice writes a slice, keeping nil distinct from empty.
func SaveSlice[S ~[]E, E any](s *Sink, v S, save func(*E, *Sink)) {
	if v == nil {
		s.uvarint(0)
		return
	}
	s.uvarint(uint64(len(v)) + 1)
	for i := range v {
		save(&v[i], s)
	}
}

// LoadSlice reads a slice written by SaveSlice.
func LoadSlice[S ~[]E, E any](s *Source, dst *S, load func(*E, *Source)) {
	n, ok := s.length()
	if !ok {
		*dst = nil
		return
	}
	s.enter()
	defer s.leave()
	size := unsafe.Sizeof(*new(E))
	capacity := n
	if size > 0 && uintptr(n) > maxPrealloc/size {
		capacity = max(1, int(maxPrealloc/size))
	}
	out := make(S, 0, capacity)
	firstHook := len(s.hooks)
	for i := 0; i < n; i++ {
		if len(out) == cap(out) {
			grown := make(S, len(out), min(2*cap(out), n))
			copy(grown, out)
			s.rebaseHooks(firstHook, unsafe.Pointer(unsafe.SliceData(out)), uintptr(len(out))*size, unsafe.Pointer(unsafe.SliceData(grown)))
			out = grown
		}
		out = out[:i+1]
		start := s.in.offset()
		load(&out[i], s)
		s.progress(start)
	}
	*dst = out
}

// SaveArray writes the elements of an array (passed as a slice of it).
func SaveArray[E any](s *Sink, v []E, save func(*E, *Sink)) {
	for i := range v {
		save(&v[i], s)
	}
}

// LoadArray reads an array written by SaveArray into v, a slice of it.
func LoadArray[E any](s *Source, v []E, load func(*E, *Source)) {
	for i := range v {
		load(&v[i], s)
	}
}

type mapEntry[K comparable, V any] struct {
	k K
	v V
}

// SaveMap writes a map, keeping nil distinct from empty, in key order when
// the key type is ordered.
func SaveMap[M ~map[K]V, K comparable, V any](s *Sink, m M, saveK func(*K, *Sink), saveV func(*V, *Sink)) {
	if m == nil {
		s.uvarint(0)
		return
	}
	s.uvarint(uint64(len(m)) + 1)
	entries := make([]mapEntry[K, V], 0, len(m))
	for k, v := range m {
		entries = append(entries, mapEntry[K, V]{k, v})
	}
	if compare := keyOrder[K](); compare != nil {
		slices.SortFunc(entries, func(a, b mapEntry[K, V]) int { return compare(&a.k, &b.k) })
	}
	for i := range entries {
		saveK(&entries[i].k, s)
		saveV(&entries[i].v, s)
	}
}

// LoadMap reads a map written by SaveMap.
func LoadMap[M ~map[K]V, K comparable, V any](s *Source, dst *M, loadK func(*K, *Source), loadV func(*V, *Source)) {
	n, ok := s.length()
	if !ok {
		*dst = nil
		return
	}
	s.enter()
	defer s.leave()
	m := make(M, min(n, 1024))
	for range n {
		var k K
		var v V
		hooks, start := len(s.hooks), s.in.offset()
		loadK(&k, s)
		loadV(&v, s)
		s.noHooksSince(hooks, "a map")
		if _, dup := m[k]; dup {
			s.corrupt("duplicate map key")
		}
		m[k] = v
		s.progress(start)
	}
	*dst = m
}

// keyOrder returns a comparison for map keys of a boolean, numeric or string
// kind, or nil for other key types.
func keyOrder[K comparable]() func(a, b *K) int {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.Bool:
		return func(a, b *K) int {
			x, y := *(*bool)(unsafe.Pointer(a)), *(*bool)(unsafe.Pointer(b))
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	case reflect.Int8:
		return compareAs[int8, K]
	case reflect.Int16:
		return compareAs[int16, K]
	case reflect.Int32:
		return compareAs[int32, K]
	case reflect.Int64:
		return compareAs[int64, K]
	case reflect.Int:
		return compareAs[int, K]
	case reflect.Uint8:
		return compareAs[uint8, K]
	case reflect.Uint16:
		return compareAs[uint16, K]
	case reflect.Uint32:
		return compareAs[uint32, K]
	case reflect.Uint64:
		return compareAs[uint64, K]
	case reflect.Uint:
		return compareAs[uint, K]
	case reflect.Uintptr:
		return compareAs[uintptr, K]
	case reflect.Float32:
		return compareAs[float32, K]
	case reflect.Float64:
		return compareAs[float64, K]
	case reflect.String:
		return compareAs[string, K]
	}
	return nil
}

// compareAs compares two K whose representation is that of X; keyOrder only
// picks it when K's kind is X's.
func compareAs[X cmp.Ordered, K any](a, b *K) int {
	return cmp.Compare(*(*X)(unsafe.Pointer(a)), *(*X)(unsafe.Pointer(b)))
}

// Interface encodings.
const (
	ifaceNil     = 0
	ifaceValue   = 1
	ifacePointer = 2
)

// SaveInterface writes an interface value. Its dynamic type must be a
// registered type T or *T.
func SaveInterface(s *Sink, v any) {
	if v == nil {
		s.uvarint(ifaceNil)
		return
	}
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		if r := registryByType[t.Elem()]; r != nil {
			s.uvarint(ifacePointer)
			s.typeRef(r.name, r.fields)
			sv := v.(Savable)
			rv := reflect.ValueOf(v)
			if rv.IsNil() {
				s.uvarint(0)
				return
			}
			id, fresh := s.reference(rv.UnsafePointer(), t.Elem())
			if fresh {
				s.objects[id-1].save = func() { sv.StateSave(s) }
			}
			s.uvarint(id)
			return
		}
	}
	r := registryByType[t]
	if r == nil {
		s.fail("%v is stored in an interface but is not registered (is it marked +stateify savable?)", t)
	}
	s.uvarint(ifaceValue)
	s.typeRef(r.name, r.fields)
	r.saveValue(s, v)
}

// LoadInterface reads an interface value written by SaveInterface into an
// interface of type I.
func LoadInterface[I any](s *Source, dst *I) {
	kind := s.uvarint()
	if kind == ifaceNil {
		var zero I
		*dst = zero
		return
	}
	if kind != ifaceValue && kind != ifacePointer {
		s.corrupt("interface kind %d", kind)
	}
	def := s.typeRef()
	r := registryByName[def.name]
	if r == nil {
		s.mismatch("the stream holds a %s in an interface, but this build has no such registered type", def.name)
	}
	s.check(def, r.name, r.fields)

	var v any
	if kind == ifaceValue {
		s.enter()
		hooks := len(s.hooks)
		v = r.loadValue(s)
		s.noHooksSince(hooks, "an interface")
		s.leave()
	} else {
		id := s.uvarint()
		switch {
		case id == 0:
			v = r.nilPtr
		case id <= uint64(len(s.objects)):
			slot := &s.objects[id-1]
			if slot.typ != r.typ {
				s.corrupt("object %d is a %v, referenced as a %v", id, slot.typ, r.typ)
			}
			v = slot.obj
		case id == uint64(len(s.objects))+1:
			p := r.newPtr()
			s.objects = append(s.objects, loadSlot{obj: p, typ: r.typ, load: func() { p.(Savable).StateLoad(s) }})
			v = p
		default:
			s.corrupt("reference to object %d before object %d", id, len(s.objects)+1)
		}
	}
	iv, ok := v.(I)
	if !ok {
		s.mismatch("a %T stored in an interface does not implement %v", v, reflect.TypeFor[I]())
	}
	*dst = iv
}

// SaveValue writes a value of a type the generator could not see into: one
// from another package. Savable types use their methods; anything else must
// be plain data, saved by reflection.
func SaveValue[T any](s *Sink, v *T) {
	if sv, ok := any(v).(Savable); ok {
		sv.StateSave(s)
		return
	}
	if err := checkPlain(reflect.TypeFor[T]()); err != nil {
		panic(failure{err})
	}
	s.saveReflect(reflect.ValueOf(v).Elem())
}

// LoadValue reads a value written by SaveValue.
func LoadValue[T any](s *Source, v *T) {
	if sv, ok := any(v).(Savable); ok {
		sv.StateLoad(s)
		return
	}
	if err := checkPlain(reflect.TypeFor[T]()); err != nil {
		panic(failure{err})
	}
	s.loadReflect(reflect.ValueOf(v).Elem())
}

// AfterLoad arranges for hook(x) to run after the whole graph is loaded.
// Generated StateLoad methods call it for types with an afterLoad method.
func AfterLoad[T any](s *Source, x *T, hook func(*T)) {
	s.afterLoad(unsafe.Pointer(x), func(p unsafe.Pointer) { hook((*T)(p)) })
}
