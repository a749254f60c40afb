package lock

import (
	"math"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// EOF is the End of a range that extends to the end of the file, however
// far it grows (l_len == 0).
const EOF = math.MaxUint64

// maxOffset is Linux's OFFSET_MAX: the last byte a range may include.
const maxOffset = math.MaxInt64

// Range is the bytes [Start, End) of a file; End is EOF for a range that
// grows with the file.
type Range struct {
	Start, End uint64
}

// WholeFile is the range of flock(2) locks.
var WholeFile = Range{0, EOF}

func (r Range) overlaps(o Range) bool { return r.Start < o.End && o.Start < r.End }

// ComputeRange converts struct flock's l_start and l_len, relative to
// base (0, the file offset or the file size, as l_whence says), into a
// range, with Linux's checks: a start before the file is EINVAL, a range
// past OFFSET_MAX is EOVERFLOW, and a negative l_len covers the bytes
// before the start.
func ComputeRange(base, start, length int64) (Range, error) {
	if (start > 0 && base > maxOffset-start) || (start < 0 && base < math.MinInt64-start) {
		return Range{}, linux.EOVERFLOW
	}
	s := base + start
	if s < 0 {
		return Range{}, linux.EINVAL
	}
	switch {
	case length > 0:
		if length-1 > maxOffset-s {
			return Range{}, linux.EOVERFLOW
		}
		end := uint64(s) + uint64(length)
		if end-1 == maxOffset {
			// The range reaches OFFSET_MAX: Linux stores it as
			// "to the end", and so reports it.
			end = EOF
		}
		return Range{uint64(s), end}, nil
	case length < 0:
		if length == math.MinInt64 || s+length < 0 {
			return Range{}, linux.EINVAL
		}
		return Range{uint64(s + length), uint64(s)}, nil
	default:
		return Range{uint64(s), EOF}, nil
	}
}

// Flock returns r as struct flock's l_start and l_len (l_whence SEEK_SET).
func (r Range) Flock() (start, length int64) {
	if r.End == EOF {
		return int64(r.Start), 0
	}
	return int64(r.Start), int64(r.End - r.Start)
}
