package mm

import "appkernel.dev/appkernel/pkg/sentry/platform"

const (
	// mmapRndBits is arm64's default mmap_rnd_bits (48-bit VA).
	mmapRndBits = 18
	// stackRndPages is arm64's STACK_RND_MASK for 64-bit tasks.
	stackRndPages = 0x3ffff
)

// effectivePerms returns what the MMU grants for VMA permissions p: arm64
// cannot express write-only pages, so write implies read; execute-only is
// possible.
func effectivePerms(p platform.AccessType) platform.AccessType {
	if p.Write {
		p.Read = true
	}
	return p
}
