package boot

import (
	"encoding/binary"
	"os"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// hostAuxv reads the sandbox process's own auxiliary vector, which
// carries the host CPU's capabilities. It runs before the Sentry is
// confined.
func hostAuxv() map[uint64]uint64 {
	data, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return nil
	}
	m := make(map[uint64]uint64)
	for len(data) >= 16 {
		k, v := binary.LittleEndian.Uint64(data), binary.LittleEndian.Uint64(data[8:])
		data = data[16:]
		if k == linux.AT_NULL {
			break
		}
		m[k] = v
	}
	return m
}

func hostHWCap() (uint64, uint64) {
	a := hostAuxv()
	return a[linux.AT_HWCAP], a[linux.AT_HWCAP2]
}

// minSigStackSize is what programs are told a signal frame needs: the
// host's value, which covers the host's XSAVE area that our frames copy.
func minSigStackSize() uint64 {
	if v := hostAuxv()[linux.AT_MINSIGSTKSZ]; v != 0 {
		return v
	}
	return linux.MINSIGSTKSZ
}
