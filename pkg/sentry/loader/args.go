package loader

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Argument size limits, as Linux's bprm_stack_limits and copy_strings.
const (
	// maxArgStrlen is MAX_ARG_STRLEN: one string with its NUL.
	maxArgStrlen = linux.MAX_ARG_STRLEN
	// minArgSpace is ARG_MAX (32 pages): always allowed for strings
	// and pointers, even with a tiny stack rlimit.
	minArgSpace = 32 * linux.PageSize
	// maxArgSpace is 3/4 of _STK_LIM (8 MiB): the cap however large the
	// stack rlimit.
	maxArgSpace = 8 << 20 / 4 * 3
	ptrSize     = 8
)

// argSpace tracks the bytes of strings copied to the new stack against
// Linux's budget: a quarter of the stack rlimit, at most 6 MiB, at least
// 128 KiB, less one pointer per argv and envp entry (counted once, from
// the original argc and envc, as Linux does).
type argSpace struct {
	left uint64
}

func newArgSpace(stackLimit uint64, argc, envc int) (argSpace, error) {
	limit := min(uint64(maxArgSpace), stackLimit/4)
	limit = max(limit, minArgSpace)
	// An empty argv gets a "" argv[0], which needs its pointer too.
	ptrs := uint64(max(argc, 1)+envc) * ptrSize
	if limit <= ptrs {
		return argSpace{}, errorf(linux.E2BIG, "%d argv and %d envp pointers exceed %d bytes", argc, envc, limit)
	}
	return argSpace{left: limit - ptrs}, nil
}

// take accounts for one string (the NUL included).
func (a *argSpace) take(s string) error {
	n := uint64(len(s)) + 1
	if n > maxArgStrlen {
		return errorf(linux.E2BIG, "string of %d bytes exceeds MAX_ARG_STRLEN", n)
	}
	if n > a.left {
		return errorf(linux.E2BIG, "argument and environment strings exceed the limit")
	}
	a.left -= n
	return nil
}

// give returns a string's space, when a script's argv[0] is replaced.
func (a *argSpace) give(s string) { a.left += uint64(len(s)) + 1 }
