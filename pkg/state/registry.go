package state

import (
	"fmt"
	"reflect"
)

// registered describes a type that may appear inside an interface value,
// where the stream must name the concrete type so the reader can create it.
type registered struct {
	name   string
	typ    reflect.Type // T; the stream may hold a T or a *T
	fields func() []string
	nilPtr any // a (*T)(nil), for typed nil pointers in interfaces

	newPtr    func() any // returns a new *T
	saveValue func(*Sink, any)
	loadValue func(*Source) any
}

// The registry is filled by init functions and only read afterwards, so it
// needs no lock.
var (
	registryByName = map[string]*registered{}
	registryByType = map[reflect.Type]*registered{}
)

// Register makes T (and *T) usable inside interface values. Generated code
// calls it from init for every savable type; it must not be called after
// init. Registering two types under one name panics, since streams could
// not tell them apart.
func Register[T any, P interface {
	*T
	Savable
}]() {
	var zero P
	name := zero.StateTypeName()
	typ := reflect.TypeFor[T]()
	if prev, ok := registryByName[name]; ok {
		if prev.typ == typ {
			return
		}
		panic(fmt.Sprintf("state: types %v and %v are both registered as %q", prev.typ, typ, name))
	}
	r := &registered{
		name:   name,
		typ:    typ,
		fields: zero.StateFields,
		nilPtr: zero,
		newPtr: func() any { return P(new(T)) },
		saveValue: func(s *Sink, v any) {
			copied := v.(T)
			P(&copied).StateSave(s)
		},
		loadValue: func(s *Source) any {
			var v T
			P(&v).StateLoad(s)
			return v
		},
	}
	registryByName[name] = r
	registryByType[typ] = r
}
