package msgqueue

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestFindByType(t *testing.T) {
	q := &Queue{}
	for _, typ := range []int64{5, 2, 7, 2, 1} {
		q.msgs = append(q.msgs, &Message{Type: typ})
	}
	for _, c := range []struct {
		typ   int64
		flags int32
		want  int
	}{
		{0, 0, 0},
		{2, 0, 1},
		{9, 0, -1},
		{5, linux.MSG_EXCEPT, 1},
		{-3, 0, 4},
		{-1 << 63, 0, 4},
		{-0, 0, 0},
		{3, linux.MSG_COPY, 3},
		{5, linux.MSG_COPY, -1},
	} {
		if got := q.findLocked(c.typ, c.flags); got != c.want {
			t.Errorf("findLocked(%d, %#o) = %d, want %d", c.typ, c.flags, got, c.want)
		}
	}
}
