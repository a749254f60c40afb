package stack

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// routeEntry is a route with the source address chosen for it.
type routeEntry struct {
	dst netip.Prefix
	gw  netip.Addr // invalid: on-link
	src netip.Addr
}

// buildRoutes makes the routing table: an on-link route per address
// prefix, then the configured routes, sorted longest prefix first so
// the first match wins.
func (s *Stack) buildRoutes(extra []Route) error {
	for _, p := range s.addrs {
		s.routes = append(s.routes, routeEntry{dst: p.Masked(), src: p.Addr()})
	}
	for _, r := range extra {
		if !r.Dst.IsValid() {
			return fmt.Errorf("stack: bad route destination %v", r.Dst)
		}
		e := routeEntry{dst: r.Dst.Masked(), gw: r.Gateway}
		if r.Gateway.IsValid() {
			if r.Gateway.Is4() != r.Dst.Addr().Is4() {
				return fmt.Errorf("stack: route %v via %v mixes families", r.Dst, r.Gateway)
			}
			if r.Gateway.Is6() && r.Gateway.IsLinkLocalUnicast() {
				// A link-local gateway says nothing about scope:
				// the destinations decide (global ones get a
				// global source).
				e.src = s.pickSource(r.Dst.Addr())
			} else {
				e.src = s.pickSource(r.Gateway)
			}
		} else {
			e.src = s.pickSource(r.Dst.Addr())
		}
		if !e.src.IsValid() {
			return fmt.Errorf("stack: no %v source address for route %v", family(r.Dst.Addr()), r.Dst)
		}
		s.routes = append(s.routes, e)
	}
	sort.SliceStable(s.routes, func(i, j int) bool { return s.routes[i].dst.Bits() > s.routes[j].dst.Bits() })
	return nil
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// pickSource chooses the address to send to (or via) a from: an
// address of the same family whose prefix holds a, else for IPv6 a
// global address unless a is link-local, else any address of the
// family.
func (s *Stack) pickSource(a netip.Addr) netip.Addr {
	for _, p := range s.addrs {
		if p.Contains(a) {
			return p.Addr()
		}
	}
	var fallback netip.Addr
	for _, p := range s.addrs {
		pa := p.Addr()
		if pa.Is4() != a.Is4() {
			continue
		}
		if a.Is6() {
			wantLL := a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()
			if pa.IsLinkLocalUnicast() != wantLL {
				if !fallback.IsValid() {
					fallback = pa
				}
				continue
			}
		}
		return pa
	}
	return fallback
}

// lookup finds the source address and next hop for dst.
func (s *Stack) lookup(dst netip.Addr) (src, nextHop netip.Addr, err error) {
	dst = dst.Unmap().WithZone("")
	if !dst.IsValid() || dst.IsUnspecified() || dst.IsLoopback() {
		return src, nextHop, linux.ENETUNREACH
	}
	if dst.IsMulticast() || (dst.Is6() && dst.IsLinkLocalUnicast()) || (dst.Is4() && s.isBroadcast4(dst)) {
		if src = s.pickSource(dst); !src.IsValid() {
			return src, nextHop, linux.ENETUNREACH
		}
		return src, dst, nil
	}
	for i := range s.routes {
		r := &s.routes[i]
		if r.dst.Contains(dst) {
			if r.gw.IsValid() {
				return r.src, r.gw, nil
			}
			return r.src, dst, nil
		}
	}
	return src, nextHop, linux.ENETUNREACH
}

// Route implements tcpip.NetworkSender.
func (s *Stack) Route(dst netip.Addr) (netip.Addr, uint32, error) {
	src, _, err := s.lookup(dst)
	if err != nil {
		return src, 0, err
	}
	return src, s.pathMTU(dst.Unmap().WithZone("")), nil
}

// pathMTU is the link MTU, lowered by what packet-too-big messages
// said about dst.
func (s *Stack) pathMTU(dst netip.Addr) uint32 {
	if m, ok := s.pmtu.get(dst); ok && m < s.mtu {
		return m
	}
	return s.mtu
}

// pmtuCache remembers path MTUs that ICMP reported, for mtu_expires.
type pmtuCache struct {
	// mu guards m; n mirrors len(m) so the send path can skip the lock
	// while the cache is empty, which it almost always is.
	mu sync.Mutex
	m  map[netip.Addr]pmtuEntry
	n  atomic.Int64
}

type pmtuEntry struct {
	mtu     uint32
	expires time.Time
}

func (c *pmtuCache) get(dst netip.Addr) (uint32, bool) {
	if c.n.Load() == 0 {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[dst]
	if !ok {
		return 0, false
	}
	if time.Now().After(e.expires) {
		delete(c.m, dst)
		c.n.Store(int64(len(c.m)))
		return 0, false
	}
	return e.mtu, true
}

// lower records that packets to dst must fit mtu; it returns the MTU
// now in force.
func (c *pmtuCache) lower(dst netip.Addr, mtu uint32) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[dst]; ok && e.mtu <= mtu && time.Now().Before(e.expires) {
		return e.mtu
	}
	if len(c.m) >= 4096 {
		// Cap the memory an ICMP flood can take: forget everything.
		clear(c.m)
	}
	c.m[dst] = pmtuEntry{mtu: mtu, expires: time.Now().Add(defaultPMTUExpiry)}
	c.n.Store(int64(len(c.m)))
	return mtu
}

// minPMTU is the smallest path MTU a packet-too-big message can set:
// IPv6's minimum link MTU, and Linux's min_pmtu for IPv4.
func minPMTU(v6 bool) uint32 {
	if v6 {
		return header.IPv6MinMTU
	}
	return 552
}
