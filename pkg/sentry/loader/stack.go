package loader

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// stackPlan is the initial stack's layout, decided before anything is
// written. From the top down, as Linux builds it:
//
//	top-8 .. top      a NULL word
//	execFn            AT_EXECFN string
//	envp strings      envStart .. execFn
//	argv strings      argStart .. envStart
//	                  (random gap of up to stackAlignRandom, then 16-byte alignment)
//	platform string   AT_PLATFORM
//	16 random bytes   AT_RANDOM
//	                  (padding so that sp is 16-byte aligned)
//	auxv, NULL-terminated by AT_NULL
//	envp[], NULL
//	argv[], NULL
//	argc              <- sp
type stackPlan struct {
	top      uint64
	execFn   uint64
	envStart uint64
	argStart uint64
	platform uint64
	random   uint64
	auxv     uint64
	sp       uint64

	argv, envv     []string
	execFnStr      string
	platformStr    string
	auxCount       int
	envEnd, argEnd uint64
}

func strSize(ss []string) uint64 {
	var n uint64
	for _, s := range ss {
		n += uint64(len(s)) + 1
	}
	return n
}

// planStack lays out a stack ending at top. alignGap is the random amount
// arch_align_stack takes off (0 when not randomising); auxCount counts
// auxv entries including AT_NULL. The argument sizes were bounded by
// argSpace, so nothing here can wrap.
func planStack(top uint64, argv, envv []string, execFn, platform string, auxCount int, alignGap uint64) stackPlan {
	p := stackPlan{top: top, argv: argv, envv: envv, execFnStr: execFn, platformStr: platform, auxCount: auxCount}
	cur := top - ptrSize
	cur -= uint64(len(execFn)) + 1
	p.execFn = cur
	p.envEnd = cur
	cur -= strSize(envv)
	p.envStart = cur
	p.argEnd = cur
	cur -= strSize(argv)
	p.argStart = cur
	cur = (cur - alignGap) &^ 15
	if platform != "" {
		cur -= uint64(len(platform)) + 1
		p.platform = cur
	}
	cur -= 16
	p.random = cur
	cur -= uint64(auxCount) * 16
	words := uint64(len(argv)+1+len(envv)+1) + 1
	p.sp = (cur - words*ptrSize) &^ 15
	p.auxv = p.sp + words*ptrSize
	return p
}

// size is the number of stack bytes from sp to top.
func (p *stackPlan) size() uint64 { return p.top - p.sp }

// build returns the bytes of [sp, top) for auxv (whose AT_RANDOM,
// AT_EXECFN and AT_PLATFORM values must already be the planned
// addresses) and the 16 AT_RANDOM bytes.
func (p *stackPlan) build(auxv []linux.AuxEntry, random [16]byte) []byte {
	buf := make([]byte, p.size())
	at := func(addr uint64) []byte { return buf[addr-p.sp:] }
	le := binary.LittleEndian

	putStrings := func(start uint64, ss []string) []uint64 {
		addrs := make([]uint64, len(ss))
		cur := start
		for i, s := range ss {
			addrs[i] = cur
			copy(at(cur), s) // the NUL is already there
			cur += uint64(len(s)) + 1
		}
		return addrs
	}
	argAddrs := putStrings(p.argStart, p.argv)
	envAddrs := putStrings(p.envStart, p.envv)
	copy(at(p.execFn), p.execFnStr)
	if p.platformStr != "" {
		copy(at(p.platform), p.platformStr)
	}
	copy(at(p.random), random[:])

	w := p.sp
	put := func(v uint64) { le.PutUint64(at(w), v); w += ptrSize }
	put(uint64(len(p.argv)))
	for _, a := range argAddrs {
		put(a)
	}
	put(0)
	for _, a := range envAddrs {
		put(a)
	}
	put(0)
	for _, e := range auxv {
		put(e.Key)
		put(e.Value)
	}
	return buf
}
