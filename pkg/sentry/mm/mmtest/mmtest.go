// Package mmtest provides a fake platform.AddressSpace for tests of the
// memory manager and of code built on it: it records every MapFile and
// Unmap call and keeps a page-by-page model of what is mapped, and fails
// loudly if the platform's rules (alignment, no concurrent calls, no use
// after Release) are broken.
package mmtest

import (
	"fmt"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// Mapping is what one page of a FakeAddressSpace maps.
type Mapping struct {
	Off uint64 // memory-file offset
	At  platform.AccessType
}

// Call is one recorded method call.
type Call struct {
	Op     string // "map" or "unmap"
	Addr   uintptr
	Off    uint64
	Length uintptr
	At     platform.AccessType
}

// FakeAddressSpace implements platform.AddressSpace in memory.
type FakeAddressSpace struct {
	inCall atomic.Bool

	mu       sync.Mutex
	calls    []Call
	pages    map[uintptr]Mapping // by page number
	released bool

	// SyncCores counts SyncCore calls (platform.CoreSyncer).
	SyncCores atomic.Int32
}

// SyncCore implements platform.CoreSyncer; it only counts.
func (f *FakeAddressSpace) SyncCore() error {
	f.SyncCores.Add(1)
	return nil
}

// NewFakeAddressSpace returns an empty fake.
func NewFakeAddressSpace() *FakeAddressSpace {
	return &FakeAddressSpace{pages: make(map[uintptr]Mapping)}
}

func (f *FakeAddressSpace) enter() {
	if !f.inCall.CompareAndSwap(false, true) {
		panic("mmtest: concurrent calls on one AddressSpace")
	}
}

func (f *FakeAddressSpace) leave() { f.inCall.Store(false) }

func checkAligned(vals ...uint64) {
	for _, v := range vals {
		if v%linux.PageSize != 0 {
			panic(fmt.Sprintf("mmtest: unaligned value %#x", v))
		}
	}
}

// MapFile implements platform.AddressSpace.MapFile.
func (f *FakeAddressSpace) MapFile(addr uintptr, offset uint64, length uintptr, at platform.AccessType) error {
	f.enter()
	defer f.leave()
	checkAligned(uint64(addr), offset, uint64(length))
	if length == 0 || at == platform.NoAccess {
		panic(fmt.Sprintf("mmtest: MapFile(%#x, %#x, %#x, %v)", addr, offset, length, at))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released {
		panic("mmtest: MapFile after Release")
	}
	f.calls = append(f.calls, Call{"map", addr, offset, length, at})
	for i := uintptr(0); i < length/linux.PageSize; i++ {
		f.pages[addr/linux.PageSize+i] = Mapping{offset + uint64(i)*linux.PageSize, at}
	}
	return nil
}

// Unmap implements platform.AddressSpace.Unmap.
func (f *FakeAddressSpace) Unmap(addr, length uintptr) {
	f.enter()
	defer f.leave()
	checkAligned(uint64(addr), uint64(length))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released {
		panic("mmtest: Unmap after Release")
	}
	f.calls = append(f.calls, Call{Op: "unmap", Addr: addr, Length: length})
	if length/linux.PageSize > uintptr(len(f.pages)) {
		for pn := range f.pages {
			if pn >= addr/linux.PageSize && pn < (addr+length)/linux.PageSize {
				delete(f.pages, pn)
			}
		}
		return
	}
	for i := uintptr(0); i < length/linux.PageSize; i++ {
		delete(f.pages, addr/linux.PageSize+i)
	}
}

// Release implements platform.AddressSpace.Release.
func (f *FakeAddressSpace) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released {
		panic("mmtest: double Release")
	}
	f.released = true
	f.pages = nil
}

// Lookup returns the mapping of the page containing addr.
func (f *FakeAddressSpace) Lookup(addr uintptr) (Mapping, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.pages[addr/linux.PageSize]
	return m, ok
}

// Pages returns a copy of the page model, keyed by page number.
func (f *FakeAddressSpace) Pages() map[uintptr]Mapping {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[uintptr]Mapping, len(f.pages))
	for k, v := range f.pages {
		out[k] = v
	}
	return out
}

// TakeCalls returns the calls recorded since the last TakeCalls.
func (f *FakeAddressSpace) TakeCalls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// Released reports whether Release was called.
func (f *FakeAddressSpace) Released() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.released
}

// Factory creates FakeAddressSpaces and remembers them in creation order.
type Factory struct {
	mu  sync.Mutex
	All []*FakeAddressSpace
}

// New is an mm.AddressSpaceFactory.
func (fa *Factory) New() (platform.AddressSpace, error) {
	f := NewFakeAddressSpace()
	fa.mu.Lock()
	fa.All = append(fa.All, f)
	fa.mu.Unlock()
	return f, nil
}

// Last returns the most recently created address space.
func (fa *Factory) Last() *FakeAddressSpace {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return fa.All[len(fa.All)-1]
}
