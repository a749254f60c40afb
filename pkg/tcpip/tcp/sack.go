package tcp

// scoreboard is the sender's record of the ranges the peer SACKed
// above its cumulative ACK (RFC 6675 section 3): sorted, disjoint
// blocks.
type scoreboard struct {
	blocks []sackBlock
	sacked int // bytes in blocks
}

// add records a SACK block, clipped to [una, max).
func (s *scoreboard) add(b sackBlock, una, sndMax seq) {
	if b.start.lt(una) {
		b.start = una
	}
	if b.end.gt(sndMax) {
		b.end = sndMax
	}
	if !b.start.lt(b.end) {
		return
	}
	// Insert, merging with the blocks it touches.
	out := s.blocks[:0:0]
	placed := false
	for _, x := range s.blocks {
		switch {
		case x.end.lt(b.start):
			out = append(out, x)
		case b.end.lt(x.start):
			if !placed {
				out = append(out, b)
				placed = true
			}
			out = append(out, x)
		default:
			b.start = seqMin(b.start, x.start)
			b.end = seqMax(b.end, x.end)
		}
	}
	if !placed {
		out = append(out, b)
	}
	s.blocks = out
	s.recount()
}

func (s *scoreboard) recount() {
	s.sacked = 0
	for _, x := range s.blocks {
		s.sacked += x.end.sub(x.start)
	}
}

// trim forgets what the cumulative ACK una covers.
func (s *scoreboard) trim(una seq) {
	i := 0
	for i < len(s.blocks) && s.blocks[i].end.leq(una) {
		i++
	}
	s.blocks = s.blocks[i:]
	if len(s.blocks) > 0 && s.blocks[0].start.lt(una) {
		s.blocks[0].start = una
	}
	if len(s.blocks) == 0 {
		s.blocks = nil
	}
	s.recount()
}

// covering returns the end of the block holding x.
func (s *scoreboard) covering(x seq) (seq, bool) {
	for _, b := range s.blocks {
		if x.geq(b.start) && x.lt(b.end) {
			return b.end, true
		}
	}
	return 0, false
}

// nextStart returns the start of the first block after x.
func (s *scoreboard) nextStart(x seq) (seq, bool) {
	for _, b := range s.blocks {
		if b.start.gt(x) {
			return b.start, true
		}
	}
	return 0, false
}

// sackedAbove counts the SACKed bytes above x.
func (s *scoreboard) sackedAbove(x seq) int {
	n := 0
	for i := len(s.blocks) - 1; i >= 0; i-- {
		b := s.blocks[i]
		if b.end.leq(x) {
			break
		}
		n += b.end.sub(seqMax(b.start, x))
	}
	return n
}

// sackedBelow counts the SACKed bytes below x.
func (s *scoreboard) sackedBelow(x seq) int {
	n := 0
	for _, b := range s.blocks {
		if b.start.geq(x) {
			break
		}
		n += seqMin(b.end, x).sub(b.start)
	}
	return n
}

func (s *scoreboard) highest() (seq, bool) {
	if len(s.blocks) == 0 {
		return 0, false
	}
	return s.blocks[len(s.blocks)-1].end, true
}

// dupThresh is RFC 6675's DupThresh.
const dupThresh = 3

// isLost is RFC 6675's IsLost for the byte at x: more than
// (DupThresh-1) segments' worth is SACKed above it.
func (c *conn) isLost(x seq) bool {
	return c.sb.sackedAbove(x) > (dupThresh-1)*c.mss
}

// nextLost is RFC 6675's NextSeg rule 1: the first range above HighRxt
// that is neither SACKed nor in flight. Without SACK (NewReno), the
// segment at sndUna is lost when not yet resent since the last partial
// ACK.
func (c *conn) nextLost() (seq, seq, bool) {
	if !c.sackOK || len(c.sb.blocks) == 0 {
		if c.highRxt.leq(c.sndUna) && c.sndUna.lt(c.sndMax) {
			return c.sndUna, seqMin(c.sndMax, c.sndUna.add(c.mss)), true
		}
		return 0, 0, false
	}
	from := seqMax(c.sndUna, c.highRxt)
	cur := c.sndUna
	for _, b := range c.sb.blocks {
		// The hole [cur, b.start).
		start := seqMax(cur, from)
		if start.lt(b.start) && c.isLost(start) {
			return start, b.start, true
		}
		cur = b.end
	}
	return 0, 0, false
}

// lostBytes counts the bytes above HighRxt that isLost says are gone
// (they are not in flight).
func (c *conn) lostBytes() int {
	if !c.sackOK || len(c.sb.blocks) == 0 {
		return 0
	}
	n := 0
	from := seqMax(c.sndUna, c.highRxt)
	cur := c.sndUna
	for _, b := range c.sb.blocks {
		start := seqMax(cur, from)
		if start.lt(b.start) && c.isLost(start) {
			n += b.start.sub(start)
		}
		cur = b.end
	}
	return n
}

// pipe is RFC 6675's estimate of the bytes in flight: sent (or resent)
// and neither cumulatively nor selectively acknowledged, nor lost.
func (c *conn) pipe() int {
	out := c.sndNxt.sub(c.sndUna)
	if out <= 0 {
		return 0
	}
	out -= c.sb.sackedBelow(c.sndNxt)
	if c.inRecovery {
		if c.sackOK && len(c.sb.blocks) > 0 {
			out -= c.lostBytes()
		} else {
			// NewReno: each duplicate ACK is a segment that left.
			out -= c.dupAcks * c.mss
			if c.highRxt.gt(c.sndUna) {
				out += c.highRxt.sub(c.sndUna)
			}
		}
	}
	return max(out, 0)
}

// oooQueue holds segments received above rcvNxt (sorted, disjoint),
// and the order they arrived in for the SACK option.
type oooQueue struct {
	segs []oooSeg
	// last is the start of the block that most recently grew, which
	// the first SACK block reports (RFC 2018 section 4).
	last seq
	n    int // bytes held
}

type oooSeg struct {
	start seq
	data  []byte
}

func (q *oooQueue) empty() bool { return len(q.segs) == 0 }

func (s oooSeg) end() seq { return s.start.add(len(s.data)) }

// insert adds data at start (copied), dropping what is already held.
func (q *oooQueue) insert(start seq, data []byte) {
	q.last = start
	// Trim against existing segments by inserting only the uncovered
	// pieces.
	pieces := []oooSeg{{start, data}}
	for _, s := range q.segs {
		var next []oooSeg
		for _, p := range pieces {
			if p.end().leq(s.start) || p.start.geq(s.end()) {
				next = append(next, p)
				continue
			}
			if p.start.lt(s.start) {
				next = append(next, oooSeg{p.start, p.data[:s.start.sub(p.start)]})
			}
			if p.end().gt(s.end()) {
				next = append(next, oooSeg{s.end(), p.data[s.end().sub(p.start):]})
			}
		}
		pieces = next
	}
	for _, p := range pieces {
		d := append([]byte(nil), p.data...)
		q.n += len(d)
		i := len(q.segs)
		for i > 0 && q.segs[i-1].start.gt(p.start) {
			i--
		}
		q.segs = append(q.segs, oooSeg{})
		copy(q.segs[i+1:], q.segs[i:])
		q.segs[i] = oooSeg{p.start, d}
	}
}

// pop returns the data at nxt, if held, trimming what lies below nxt.
func (q *oooQueue) pop(nxt seq) ([]byte, bool) {
	for len(q.segs) > 0 {
		s := q.segs[0]
		if s.start.gt(nxt) {
			return nil, false
		}
		q.segs = q.segs[1:]
		q.n -= len(s.data)
		if s.end().leq(nxt) {
			continue
		}
		return s.data[nxt.sub(s.start):], true
	}
	return nil, false
}

// sackBlocks fills out with the held ranges, merged, the one holding
// the latest arrival first.
func (q *oooQueue) sackBlocks(out []sackBlock) int {
	var blocks []sackBlock
	for _, s := range q.segs {
		if l := len(blocks); l > 0 && blocks[l-1].end == s.start {
			blocks[l-1].end = s.end()
			continue
		}
		blocks = append(blocks, sackBlock{s.start, s.end()})
	}
	n := 0
	for i, b := range blocks {
		if q.last.geq(b.start) && q.last.lt(b.end) {
			out[0] = b
			n = 1
			blocks = append(blocks[:i:i], blocks[i+1:]...)
			break
		}
	}
	for _, b := range blocks {
		if n == len(out) {
			break
		}
		out[n] = b
		n++
	}
	return n
}
