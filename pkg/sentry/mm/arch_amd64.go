package mm

import "appkernel.dev/appkernel/pkg/sentry/platform"

const (
	// mmapRndBits is x86-64's default mmap_rnd_bits.
	mmapRndBits = 28
	// stackRndPages is x86-64's STACK_RND_MASK: up to 16 GiB of stack
	// randomization.
	stackRndPages = 0x3fffff
)

// effectivePerms returns what the MMU grants for VMA permissions p: on
// x86-64 every present page is readable, so write and execute imply read.
func effectivePerms(p platform.AccessType) platform.AccessType {
	if p.Write || p.Execute {
		p.Read = true
	}
	return p
}
