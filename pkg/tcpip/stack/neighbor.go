package stack

import (
	"net/netip"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// Neighbor cache: maps next-hop IP addresses to MAC addresses, through
// ARP for IPv4 and neighbor discovery for IPv6, in the manner of
// Linux's neighbor state machine reduced to three states.
//
// An entry is incomplete while being resolved: packets wait in its
// queue and a request goes out every retransTime, broadcast (ARP) or to
// the solicited-node group (ND). After `solicitations` unanswered
// requests the entry is removed and every queued packet's sender hears
// ControlHostUnreachable. A resolved entry is reachable for
// reachableTime after its last confirmation; used after that it keeps
// forwarding (sending never waits) while unicast probes go to the known
// MAC, and if those go unanswered the entry is removed, so the next
// packet starts a fresh resolution.

type neighborState uint8

const (
	neighIncomplete neighborState = iota
	neighReachable
	neighProbe
)

// neighbor is one cache entry; all fields are guarded by
// neighborCache.mu.
type neighbor struct {
	addr      netip.Addr
	mac       tcpip.LinkAddress
	state     neighborState
	confirmed time.Time
	// sent counts requests sent in the current incomplete or probe
	// round.
	sent  int
	src   netip.Addr // source address for requests
	queue [][]byte   // frames waiting for resolution, Ethernet dst unset
	timer *time.Timer
}

// neighborCache is the one lock of neighbor resolution.
type neighborCache struct {
	// mu guards m and every entry in it.
	mu sync.Mutex
	m  map[netip.Addr]*neighbor
}

// maxNeighbors is when the cache starts forgetting entries that have
// not been confirmed for a while.
const maxNeighbors = 1024

// resolve returns the MAC address of nextHop if known. Otherwise it
// copies frames into the entry's queue, starts resolution if needed,
// and returns false.
func (s *Stack) resolve(nextHop netip.Addr, frames [][]byte) (tcpip.LinkAddress, bool) {
	c := &s.neigh
	now := time.Now()
	c.mu.Lock()
	n := c.m[nextHop]
	if n != nil && n.state != neighIncomplete {
		mac := n.mac
		probe := false
		if n.state == neighReachable && now.Sub(n.confirmed) > s.reachableTime {
			n.state = neighProbe
			n.sent = 1
			n.timer = s.armNeighborTimer(n)
			probe = true
		}
		src := n.src
		c.mu.Unlock()
		if probe {
			s.solicit(nextHop, src, &mac)
		}
		return mac, true
	}
	start := false
	if n == nil {
		if len(c.m) >= maxNeighbors {
			c.pruneLocked(now, s.reachableTime)
		}
		n = &neighbor{addr: nextHop, state: neighIncomplete, sent: 1}
		n.src = s.requestSource(nextHop, frames)
		c.m[nextHop] = n
		n.timer = s.armNeighborTimer(n)
		start = true
	}
	for _, f := range frames {
		if len(n.queue) >= maxNeighborQueue {
			// Drop the oldest, as Linux does.
			n.queue = n.queue[1:]
			inc(&s.stats.NeighborQueueDrops)
		}
		n.queue = append(n.queue, append([]byte(nil), f...))
	}
	src := n.src
	c.mu.Unlock()
	if start {
		s.solicit(nextHop, src, nil)
	}
	return tcpip.LinkAddress{}, false
}

// requestSource is the source address for a request about target: the
// source of the packet that needs it when that is one of ours (as
// Linux's arp_announce=0), else the interface's best match.
func (s *Stack) requestSource(target netip.Addr, frames [][]byte) netip.Addr {
	if len(frames) > 0 && len(frames[0]) > header.EthernetSize {
		ip := frames[0][header.EthernetSize:]
		var src netip.Addr
		if target.Is4() && len(ip) >= header.IPv4MinSize {
			src = header.IPv4(ip).Src()
		} else if target.Is6() && len(ip) >= header.IPv6Size {
			src = header.IPv6(ip).Src()
		}
		if s.isOurs(src) {
			return src
		}
	}
	return s.pickSource(target)
}

// pruneLocked forgets settled entries not confirmed for a while.
func (c *neighborCache) pruneLocked(now time.Time, reachable time.Duration) {
	for a, n := range c.m {
		if n.state == neighReachable && now.Sub(n.confirmed) > 2*reachable {
			delete(c.m, a)
		}
	}
}

// armNeighborTimer schedules the entry's next retransmission check.
// Called with the cache lock held.
func (s *Stack) armNeighborTimer(n *neighbor) *time.Timer {
	if n.timer != nil {
		n.timer.Stop()
	}
	return time.AfterFunc(s.retransTime, func() { s.neighborTimeout(n) })
}

// neighborTimeout retransmits a request or gives up on n.
func (s *Stack) neighborTimeout(n *neighbor) {
	c := &s.neigh
	c.mu.Lock()
	if c.m[n.addr] != n || n.state == neighReachable || s.closed.Load() {
		c.mu.Unlock()
		return
	}
	if n.sent < s.solicitations {
		n.sent++
		n.timer = s.armNeighborTimer(n)
		var mac *tcpip.LinkAddress
		if n.state == neighProbe {
			m := n.mac
			mac = &m
		}
		addr, src := n.addr, n.src
		c.mu.Unlock()
		s.solicit(addr, src, mac)
		return
	}
	delete(c.m, n.addr)
	n.timer = nil
	queue := n.queue
	n.queue = nil
	failed := n.state == neighIncomplete
	c.mu.Unlock()
	if !failed {
		return
	}
	inc(&s.stats.NeighborFailures)
	add(&s.stats.NeighborQueueDrops, len(queue))
	for _, f := range queue {
		s.controlOwnPacket(f[header.EthernetSize:], tcpip.ControlHostUnreachable, 0)
	}
}

// learn records that addr is at mac. confirm says the message proves
// reachability (a reply to us, or a request from the neighbor itself);
// create says an entry may be made when none exists. Packets waiting
// for addr are sent.
func (s *Stack) learn(addr netip.Addr, mac tcpip.LinkAddress, confirm, create bool) {
	if header.IsMulticastMAC(mac) || mac == (tcpip.LinkAddress{}) {
		return
	}
	c := &s.neigh
	now := time.Now()
	c.mu.Lock()
	n := c.m[addr]
	if n == nil {
		if !create {
			c.mu.Unlock()
			return
		}
		if len(c.m) >= maxNeighbors {
			c.pruneLocked(now, s.reachableTime)
		}
		n = &neighbor{addr: addr, src: s.pickSource(addr)}
		c.m[addr] = n
	}
	n.mac = mac
	if confirm || n.state == neighIncomplete {
		n.state = neighReachable
		n.confirmed = now
		n.sent = 0
		if n.timer != nil {
			n.timer.Stop()
			n.timer = nil
		}
	}
	queue := n.queue
	n.queue = nil
	c.mu.Unlock()
	if len(queue) > 0 {
		for _, f := range queue {
			header.Ethernet(f).SetDst(mac)
		}
		_ = s.writeFrames(queue)
	}
}

// solicit sends an ARP request or neighbor solicitation for target,
// unicast to *mac when probing an entry, else broadcast or to the
// target's solicited-node group.
func (s *Stack) solicit(target, src netip.Addr, mac *tcpip.LinkAddress) {
	if s.closed.Load() || !src.IsValid() {
		return
	}
	if target.Is4() {
		s.sendARPRequest(target, src, mac)
		return
	}
	s.sendNS(target, src, mac)
}

// closeAll stops every timer and drops every queued packet.
func (c *neighborCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, n := range c.m {
		if n.timer != nil {
			n.timer.Stop()
		}
		delete(c.m, a)
	}
}

// Neighbor returns the MAC address the cache holds for addr, if it is
// resolved. For tests and diagnostics.
func (s *Stack) Neighbor(addr netip.Addr) (tcpip.LinkAddress, bool) {
	s.neigh.mu.Lock()
	defer s.neigh.mu.Unlock()
	n := s.neigh.m[addr]
	if n == nil || n.state == neighIncomplete {
		return tcpip.LinkAddress{}, false
	}
	return n.mac, true
}
