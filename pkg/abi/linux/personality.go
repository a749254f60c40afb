package linux

// personality(2) flags and domains. The low byte is the execution domain,
// the rest are flags; only a few change behaviour on 64-bit targets.
const (
	UNAME26            = 0x0020000
	ADDR_NO_RANDOMIZE  = 0x0040000
	FDPIC_FUNCPTRS     = 0x0080000
	MMAP_PAGE_ZERO     = 0x0100000
	ADDR_COMPAT_LAYOUT = 0x0200000
	READ_IMPLIES_EXEC  = 0x0400000
	ADDR_LIMIT_32BIT   = 0x0800000
	SHORT_INODE        = 0x1000000
	WHOLE_SECONDS      = 0x2000000
	STICKY_TIMEOUTS    = 0x4000000
	ADDR_LIMIT_3GB     = 0x8000000

	PER_LINUX   = 0x0000
	PER_LINUX32 = 0x0008
	PER_MASK    = 0x00ff

	// PER_QUERY as the argument only reads the current personality.
	PER_QUERY = 0xffffffff
)
