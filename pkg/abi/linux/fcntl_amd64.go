package linux

// The open(2) flags whose values x86 inherited from the i386 ABI, which
// took them from asm-generic.
const (
	O_DIRECT    = 00040000
	O_LARGEFILE = 00100000
	O_DIRECTORY = 00200000
	O_NOFOLLOW  = 00400000
)
