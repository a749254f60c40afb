package linux

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestInotifyConstants(t *testing.T) {
	for _, c := range []constCase{
		{"IN_ACCESS", IN_ACCESS, unix.IN_ACCESS}, {"IN_MODIFY", IN_MODIFY, unix.IN_MODIFY},
		{"IN_ATTRIB", IN_ATTRIB, unix.IN_ATTRIB}, {"IN_CLOSE_WRITE", IN_CLOSE_WRITE, unix.IN_CLOSE_WRITE},
		{"IN_CLOSE_NOWRITE", IN_CLOSE_NOWRITE, unix.IN_CLOSE_NOWRITE}, {"IN_OPEN", IN_OPEN, unix.IN_OPEN},
		{"IN_MOVED_FROM", IN_MOVED_FROM, unix.IN_MOVED_FROM}, {"IN_MOVED_TO", IN_MOVED_TO, unix.IN_MOVED_TO},
		{"IN_CREATE", IN_CREATE, unix.IN_CREATE}, {"IN_DELETE", IN_DELETE, unix.IN_DELETE},
		{"IN_DELETE_SELF", IN_DELETE_SELF, unix.IN_DELETE_SELF}, {"IN_MOVE_SELF", IN_MOVE_SELF, unix.IN_MOVE_SELF},
		{"IN_UNMOUNT", IN_UNMOUNT, unix.IN_UNMOUNT}, {"IN_Q_OVERFLOW", IN_Q_OVERFLOW, unix.IN_Q_OVERFLOW},
		{"IN_IGNORED", IN_IGNORED, unix.IN_IGNORED}, {"IN_ONLYDIR", IN_ONLYDIR, unix.IN_ONLYDIR},
		{"IN_DONT_FOLLOW", IN_DONT_FOLLOW, unix.IN_DONT_FOLLOW}, {"IN_EXCL_UNLINK", IN_EXCL_UNLINK, unix.IN_EXCL_UNLINK},
		{"IN_MASK_CREATE", IN_MASK_CREATE, 0x10000000}, {"IN_MASK_ADD", IN_MASK_ADD, unix.IN_MASK_ADD},
		{"IN_ISDIR", IN_ISDIR, unix.IN_ISDIR}, {"IN_ONESHOT", IN_ONESHOT, unix.IN_ONESHOT},
		{"IN_ALL_EVENTS", IN_ALL_EVENTS, unix.IN_ALL_EVENTS},
	} {
		if c.ours != c.theirs {
			t.Errorf("%s = %#x, want %#x", c.name, c.ours, c.theirs)
		}
	}
}
