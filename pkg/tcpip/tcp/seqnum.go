package tcp

// seq is a TCP sequence number; comparisons are modulo 2^32 (RFC 9293
// section 3.4), valid for numbers less than 2^31 apart.
type seq uint32

func (a seq) lt(b seq) bool  { return int32(a-b) < 0 }
func (a seq) leq(b seq) bool { return int32(a-b) <= 0 }
func (a seq) gt(b seq) bool  { return int32(a-b) > 0 }
func (a seq) geq(b seq) bool { return int32(a-b) >= 0 }

// add returns a advanced by n bytes.
func (a seq) add(n int) seq { return a + seq(uint32(n)) }

// sub returns the distance from b up to a.
func (a seq) sub(b seq) int { return int(int32(a - b)) }

// inWindow reports whether a lies in [start, start+size).
func (a seq) inWindow(start seq, size int) bool {
	return a.geq(start) && a.lt(start.add(size))
}

func seqMax(a, b seq) seq {
	if a.gt(b) {
		return a
	}
	return b
}

func seqMin(a, b seq) seq {
	if a.lt(b) {
		return a
	}
	return b
}
