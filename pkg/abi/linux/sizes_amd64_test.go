package linux

import "unsafe"

// Hand-checked amd64 sizes. The array lengths below are negative, and the
// test binary fails to compile, if a Go struct's size drifts from the C
// one.
var (
	_ [unsafe.Sizeof(Stat{}) - 144]byte
	_ [144 - unsafe.Sizeof(Stat{})]byte
	_ [unsafe.Sizeof(EpollEvent{}) - 12]byte
	_ [12 - unsafe.Sizeof(EpollEvent{})]byte
	_ [unsafe.Sizeof(PtraceRegs{}) - 216]byte
	_ [216 - unsafe.Sizeof(PtraceRegs{})]byte
)

var archSizes = map[string][2]int{
	"Stat":       {SizeofStat, 144},
	"EpollEvent": {SizeofEpollEvent, 12},
	"PtraceRegs": {SizeofPtraceRegs, 216},
}
