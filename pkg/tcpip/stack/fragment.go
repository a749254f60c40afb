package stack

import (
	"net/netip"
	"sort"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// Reassembly of IPv4 and IPv6 fragments. Fragments are kept as
// disjoint pieces sorted by offset. A piece that exactly repeats one
// already held is ignored; any other overlap discards the whole
// datagram, which RFC 5722 requires for IPv6 and Linux also does for
// IPv4. A datagram not complete within reassemblyTime is dropped with
// an ICMP time exceeded (when its first fragment arrived, as RFC 792
// and RFC 8200 ask). The memory all pieces take is bounded; past the
// bound the oldest datagrams are evicted first.

// fragKey identifies a datagram being reassembled: RFC 791's
// (src, dst, protocol, id) for IPv4; (src, dst, id) for IPv6, whose
// protocol is 0 here.
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type fragPiece struct {
	off, end int
	data     []byte
}

// reassembly is one datagram in progress; guarded by reassembler.mu.
type reassembly struct {
	key     fragKey
	hdr     []byte // the offset-0 fragment's IP header, once it came
	pieces  []fragPiece
	total   int // datagram payload length; -1 until the last fragment
	have    int
	mem     int
	created time.Time
	timer   *time.Timer
}

// fragOverhead is the memory charged per piece besides its data.
const fragOverhead = 64

type reassembler struct {
	// mu guards m and mem.
	mu    sync.Mutex
	m     map[fragKey]*reassembly
	mem   int
	limit int
}

func (r *reassembler) init(limit int) {
	r.m = make(map[fragKey]*reassembly)
	r.limit = limit
}

// reassemble adds a fragment whose payload data starts at byte off of
// the datagram; hdr is the header to put in front of the reassembled
// payload when this is the first fragment. It returns the whole
// datagram (header and payload, in a new buffer) once complete.
func (s *Stack) reassemble(key fragKey, hdr []byte, off int, more bool, data []byte) []byte {
	r := &s.frag
	end := off + len(data)
	maxEnd := header.IPv4MaxTotalLength - header.IPv4MinSize
	if key.src.Is6() {
		maxEnd = 65535 - header.IPv6FragmentSize
	}
	if (more && (len(data) == 0 || len(data)%8 != 0)) || end > maxEnd {
		inc(&s.stats.ReassemblyFailures)
		return nil
	}
	r.mu.Lock()
	d := r.m[key]
	if d == nil {
		d = &reassembly{key: key, total: -1, created: time.Now()}
		r.m[key] = d
		d.timer = time.AfterFunc(s.reassemblyTime, func() { s.reassemblyTimeout(d) })
	}
	if !more {
		if (d.total >= 0 && d.total != end) || (len(d.pieces) > 0 && d.pieces[len(d.pieces)-1].end > end) {
			s.dropReassemblyLocked(d)
			r.mu.Unlock()
			return nil
		}
		d.total = end
	} else if d.total >= 0 && end > d.total {
		s.dropReassemblyLocked(d)
		r.mu.Unlock()
		return nil
	}
	i := sort.Search(len(d.pieces), func(i int) bool { return d.pieces[i].off >= off })
	if i < len(d.pieces) && d.pieces[i].off == off && d.pieces[i].end == end {
		// An exact duplicate.
		r.mu.Unlock()
		return nil
	}
	if (i > 0 && d.pieces[i-1].end > off) || (i < len(d.pieces) && d.pieces[i].off < end) {
		s.dropReassemblyLocked(d)
		r.mu.Unlock()
		return nil
	}
	cost := len(data) + fragOverhead
	if off == 0 {
		cost += len(hdr)
	}
	for r.mem+cost > r.limit && r.evictOldestLocked(s, d) {
	}
	if r.mem+cost > r.limit {
		s.dropReassemblyLocked(d)
		r.mu.Unlock()
		return nil
	}
	r.mem += cost
	d.mem += cost
	d.pieces = append(d.pieces, fragPiece{})
	copy(d.pieces[i+1:], d.pieces[i:])
	d.pieces[i] = fragPiece{off: off, end: end, data: append([]byte(nil), data...)}
	d.have += len(data)
	if off == 0 {
		d.hdr = append([]byte(nil), hdr...)
	}
	if d.total < 0 || d.have != d.total || d.hdr == nil {
		r.mu.Unlock()
		return nil
	}
	// Complete: pieces are disjoint and cover [0, total).
	delete(r.m, key)
	d.timer.Stop()
	r.mem -= d.mem
	r.mu.Unlock()
	pkt := make([]byte, len(d.hdr)+d.total)
	copy(pkt, d.hdr)
	for _, p := range d.pieces {
		copy(pkt[len(d.hdr)+p.off:], p.data)
	}
	inc(&s.stats.Reassembled)
	return pkt
}

// dropReassemblyLocked discards d as malformed.
func (s *Stack) dropReassemblyLocked(d *reassembly) {
	inc(&s.stats.ReassemblyFailures)
	s.frag.removeLocked(d)
}

func (r *reassembler) removeLocked(d *reassembly) {
	if r.m[d.key] == d {
		delete(r.m, d.key)
		r.mem -= d.mem
	}
	d.timer.Stop()
}

// evictOldestLocked drops the oldest datagram other than keep, and
// reports whether there was one.
func (r *reassembler) evictOldestLocked(s *Stack, keep *reassembly) bool {
	var oldest *reassembly
	for _, d := range r.m {
		if d != keep && (oldest == nil || d.created.Before(oldest.created)) {
			oldest = d
		}
	}
	if oldest == nil {
		return false
	}
	s.dropReassemblyLocked(oldest)
	return true
}

// reassemblyTimeout drops d if it is still incomplete.
func (s *Stack) reassemblyTimeout(d *reassembly) {
	r := &s.frag
	r.mu.Lock()
	if r.m[d.key] != d {
		r.mu.Unlock()
		return
	}
	r.removeLocked(d)
	inc(&s.stats.ReassemblyTimeouts)
	var quoted []byte
	if d.hdr != nil && len(d.pieces) > 0 && d.pieces[0].off == 0 {
		quoted = append(append([]byte(nil), d.hdr...), d.pieces[0].data...)
	}
	r.mu.Unlock()
	if quoted == nil || s.closed.Load() {
		return
	}
	if d.key.src.Is4() {
		s.sendICMPv4Error(header.IPv4(quoted), header.ICMPv4TimeExceeded, header.ICMPv4ReassemblyTime, 0)
	} else {
		s.sendICMPv6Error(header.IPv6(quoted), header.ICMPv6TimeExceeded, header.ICMPv6ReassemblyTime, 0, false)
	}
}

// closeAll stops every reassembly timer.
func (r *reassembler) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.m {
		r.removeLocked(d)
	}
}

// FragmentMemory returns the bytes held by incomplete datagrams, for
// tests and diagnostics.
func (s *Stack) FragmentMemory() int {
	s.frag.mu.Lock()
	defer s.frag.mu.Unlock()
	return s.frag.mem
}
