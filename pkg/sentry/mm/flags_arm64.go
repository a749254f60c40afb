package mm

// map32Bit: MAP_32BIT does not exist on arm64 (the bit is ignored).
func map32Bit(flags int) bool { return false }
