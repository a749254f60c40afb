package linux

// arm64 keeps the 32-bit ARM values for these four open(2) flags, which
// differ from asm-generic; mixing them up turns O_DIRECTORY into O_DIRECT.
const (
	O_DIRECTORY = 00040000
	O_NOFOLLOW  = 00100000
	O_DIRECT    = 00200000
	O_LARGEFILE = 00400000
)
