package linux

// arm64 protection bits: branch target identification and memory tagging.
const (
	PROT_BTI = 0x10
	PROT_MTE = 0x20
)
