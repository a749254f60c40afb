package linux

import "unsafe"

// Hand-checked arm64 sizes. The array lengths below are negative, and the
// test binary fails to compile (GOARCH=arm64 go test -c), if a Go struct's
// size drifts from the C one.
var (
	_ [unsafe.Sizeof(Stat{}) - 128]byte
	_ [128 - unsafe.Sizeof(Stat{})]byte
	_ [unsafe.Sizeof(EpollEvent{}) - 16]byte
	_ [16 - unsafe.Sizeof(EpollEvent{})]byte
	_ [unsafe.Sizeof(PtraceRegs{}) - 272]byte
	_ [272 - unsafe.Sizeof(PtraceRegs{})]byte
	// asm-generic stat: st_blksize is an int at 56, st_blocks at 64.
	_ [unsafe.Offsetof(Stat{}.Blksize) - 56]byte
	_ [56 - unsafe.Offsetof(Stat{}.Blksize)]byte
	_ [unsafe.Offsetof(Stat{}.Blocks) - 64]byte
	_ [64 - unsafe.Offsetof(Stat{}.Blocks)]byte
	_ [unsafe.Offsetof(EpollEvent{}.Data) - 8]byte
	_ [8 - unsafe.Offsetof(EpollEvent{}.Data)]byte
)

var archSizes = map[string][2]int{
	"Stat":       {SizeofStat, 128},
	"EpollEvent": {SizeofEpollEvent, 16},
	"PtraceRegs": {SizeofPtraceRegs, 272},
}
