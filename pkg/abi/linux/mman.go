package linux

// Memory protection bits for mmap(2) and mprotect(2).
const (
	PROT_NONE      = 0x0
	PROT_READ      = 0x1
	PROT_WRITE     = 0x2
	PROT_EXEC      = 0x4
	PROT_SEM       = 0x8
	PROT_GROWSDOWN = 0x01000000
	PROT_GROWSUP   = 0x02000000
)

// Flags for mmap(2). MAP_32BIT exists only on amd64 (mman_amd64.go).
const (
	MAP_SHARED          = 0x01
	MAP_PRIVATE         = 0x02
	MAP_SHARED_VALIDATE = 0x03
	MAP_TYPE            = 0x0f
	MAP_FIXED           = 0x10
	MAP_ANONYMOUS       = 0x20
	MAP_ANON            = MAP_ANONYMOUS
	MAP_FILE            = 0
	MAP_GROWSDOWN       = 0x0100
	MAP_DENYWRITE       = 0x0800
	MAP_EXECUTABLE      = 0x1000
	MAP_LOCKED          = 0x2000
	MAP_NORESERVE       = 0x4000
	MAP_POPULATE        = 0x008000
	MAP_NONBLOCK        = 0x010000
	MAP_STACK           = 0x020000
	MAP_HUGETLB         = 0x040000
	MAP_SYNC            = 0x080000
	MAP_FIXED_NOREPLACE = 0x100000
	MAP_UNINITIALIZED   = 0x4000000

	// With MAP_HUGETLB, bits [26, 32) of the flags give log2 of the huge
	// page size.
	MAP_HUGE_SHIFT = 26
	MAP_HUGE_MASK  = 0x3f
)

// Flags for mremap(2).
const (
	MREMAP_MAYMOVE   = 1
	MREMAP_FIXED     = 2
	MREMAP_DONTUNMAP = 4
)

// Flags for msync(2).
const (
	MS_ASYNC      = 1
	MS_INVALIDATE = 2
	MS_SYNC       = 4
)

// Flags for mlockall(2) and mlock2(2).
const (
	MCL_CURRENT   = 1
	MCL_FUTURE    = 2
	MCL_ONFAULT   = 4
	MLOCK_ONFAULT = 0x01
)

// Advice for madvise(2).
const (
	MADV_NORMAL          = 0
	MADV_RANDOM          = 1
	MADV_SEQUENTIAL      = 2
	MADV_WILLNEED        = 3
	MADV_DONTNEED        = 4
	MADV_FREE            = 8
	MADV_REMOVE          = 9
	MADV_DONTFORK        = 10
	MADV_DOFORK          = 11
	MADV_MERGEABLE       = 12
	MADV_UNMERGEABLE     = 13
	MADV_HUGEPAGE        = 14
	MADV_NOHUGEPAGE      = 15
	MADV_DONTDUMP        = 16
	MADV_DODUMP          = 17
	MADV_WIPEONFORK      = 18
	MADV_KEEPONFORK      = 19
	MADV_COLD            = 20
	MADV_PAGEOUT         = 21
	MADV_POPULATE_READ   = 22
	MADV_POPULATE_WRITE  = 23
	MADV_DONTNEED_LOCKED = 24
	MADV_COLLAPSE        = 25
	MADV_HWPOISON        = 100
	MADV_SOFT_OFFLINE    = 101
)

// Flags for membarrier(2) commands.
const (
	MEMBARRIER_CMD_QUERY                                = 0
	MEMBARRIER_CMD_GLOBAL                               = 1 << 0
	MEMBARRIER_CMD_GLOBAL_EXPEDITED                     = 1 << 1
	MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED            = 1 << 2
	MEMBARRIER_CMD_PRIVATE_EXPEDITED                    = 1 << 3
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED           = 1 << 4
	MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE          = 1 << 5
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 6
	MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ               = 1 << 7
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ      = 1 << 8
)

// Page geometry. Both targets are built with 4 KiB pages here; arm64 kernels
// may use 16 KiB or 64 KiB pages, in which case the Sentry must still tell
// applications the page size through AT_PAGESZ rather than assume this.
const (
	PageShift = 12
	PageSize  = 1 << PageShift
)
