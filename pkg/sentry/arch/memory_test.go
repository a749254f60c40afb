package arch

import (
	"errors"
	"fmt"
)

// testMemory is one contiguous block of application memory at base;
// anything outside it faults.
type testMemory struct {
	base uintptr
	data []byte
}

var errTestFault = errors.New("fault")

func newTestMemory(base uintptr, size int) *testMemory {
	return &testMemory{base: base, data: make([]byte, size)}
}

func (m *testMemory) slice(addr uintptr, n int) ([]byte, error) {
	if addr < m.base || addr-m.base > uintptr(len(m.data)) || uintptr(len(m.data))-(addr-m.base) < uintptr(n) {
		return nil, fmt.Errorf("%w at %#x+%d", errTestFault, addr, n)
	}
	return m.data[addr-m.base : addr-m.base+uintptr(n)], nil
}

func (m *testMemory) CopyIn(addr uintptr, dst []byte) error {
	s, err := m.slice(addr, len(dst))
	if err != nil {
		return err
	}
	copy(dst, s)
	return nil
}

func (m *testMemory) CopyOut(addr uintptr, src []byte) error {
	s, err := m.slice(addr, len(src))
	if err != nil {
		return err
	}
	copy(s, src)
	return nil
}

func (m *testMemory) top() uintptr { return m.base + uintptr(len(m.data)) }
