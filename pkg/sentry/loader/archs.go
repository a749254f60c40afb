package loader

import "appkernel.dev/appkernel/pkg/abi/linux"

// archParams are the per-machine constants of Linux's ELF loader. Both
// machines are described on every build so that tests can parse either;
// only hostArch is used to run programs.
type archParams struct {
	// machine is the e_machine the loader accepts.
	machine uint16
	// platform is the AT_PLATFORM string (ELF_PLATFORM).
	platform string
	// taskSize is TASK_SIZE with the default (non-5-level / 48-bit VA)
	// address space: the first address above user space.
	taskSize uint64
	// mmapRndBits is the default mmap_rnd_bits: a PIE's load bias is
	// randomised by up to 2^mmapRndBits pages.
	mmapRndBits uint
	// brkRandomRange is arch_randomize_brk's range in bytes.
	brkRandomRange uint64
	// stackAlignRandom is how many bytes arch_align_stack may take off
	// the stack pointer below the strings, when randomising.
	stackAlignRandom uint64
	// minSigStackSize is MINSIGSTKSZ, the AT_MINSIGSTKSZ value used when
	// the caller does not know the real signal frame size.
	minSigStackSize uint64
}

// etDynBase is ELF_ET_DYN_BASE: where a PIE that has an interpreter is
// loaded, two thirds of the way up the user address space, so that the
// mmap area above and the brk area above the program both have room.
// It is computed from Linux's TASK_SIZE even though the platform keeps
// the top of the address space (taskSize is a little lower), so that
// with ASLR off (gdb, setarch -R) programs load where they do natively
// and debuggers print the same addresses; only an address space much
// smaller than Linux's gets its own two thirds.
func (a *archParams) etDynBase(taskSize uint64) uint64 {
	size := a.taskSize
	if taskSize < size/6*5 {
		size = taskSize
	}
	return (size / 3 * 2) &^ (linux.PageSize - 1)
}

var amd64Params = archParams{
	machine:  linux.EM_X86_64,
	platform: "x86_64",
	// DEFAULT_MAP_WINDOW: 47-bit user space less the guard page.
	taskSize:         1<<47 - linux.PageSize,
	mmapRndBits:      28,
	brkRandomRange:   0x02000000,
	stackAlignRandom: 8192,
	minSigStackSize:  2048,
}

var arm64Params = archParams{
	machine:          linux.EM_AARCH64,
	platform:         "aarch64",
	taskSize:         1 << 48,
	mmapRndBits:      18,
	brkRandomRange:   1 << 30,
	stackAlignRandom: linux.PageSize,
	minSigStackSize:  5120,
}
