package linux

// Flags for getrandom(2).
const (
	GRND_NONBLOCK = 0x0001
	GRND_RANDOM   = 0x0002
	GRND_INSECURE = 0x0004
)
