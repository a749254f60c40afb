package stack

import (
	"reflect"
	"sync/atomic"
)

// Stats are the stack's packet, byte and error counters. Every field
// only grows.
type Stats struct {
	// Link layer.
	FramesIn        uint64 // frames the link delivered
	BytesIn         uint64
	FramesOut       uint64 // frames written to the link
	BytesOut        uint64
	FramesDropped   uint64 // not for our MAC, unknown EtherType, or truncated
	LinkWriteErrors uint64

	// Neighbor resolution.
	ARPIn              uint64
	ARPOut             uint64
	NDIn               uint64 // neighbor solicitations and advertisements received
	NDOut              uint64
	NeighborFailures   uint64 // resolutions that gave up
	NeighborQueueDrops uint64 // packets dropped waiting for (or after failing) resolution

	// IP.
	IPv4In             uint64
	IPv6In             uint64
	IPHeaderErrors     uint64 // bad version, lengths or extension headers
	IPv4ChecksumErrors uint64
	IPNotForUs         uint64 // destination not one of ours
	IPUnknownProtocol  uint64
	IPDelivered        uint64 // packets handed to ICMP, UDP or a transport
	IPOut              uint64 // packets sent, counted before fragmentation
	IPNoRoute          uint64

	// Fragmentation.
	FragmentsIn        uint64
	Reassembled        uint64
	ReassemblyTimeouts uint64
	ReassemblyFailures uint64 // overlaps, bad lengths, memory limit
	FragmentsOut       uint64
	Fragmented         uint64 // packets split into fragments

	// ICMP (both families).
	ICMPIn             uint64
	ICMPOut            uint64
	ICMPChecksumErrors uint64
	ICMPMalformed      uint64
	ICMPErrorsIn       uint64 // errors about a packet we sent
	ICMPRateLimited    uint64 // errors not sent because of the rate limit
	EchoRequestsIn     uint64

	// UDP.
	UDPIn             uint64
	UDPOut            uint64
	UDPChecksumErrors uint64
	UDPMalformed      uint64
	UDPNoPort         uint64 // datagrams nobody took
}

// inc adds one to the counter c points at.
func inc(c *uint64) { atomic.AddUint64(c, 1) }

// add adds n to the counter c points at.
func add(c *uint64, n int) { atomic.AddUint64(c, uint64(n)) }

// snapshot reads every counter atomically. Reflection keeps the field
// list in one place; Stats is not on any packet path.
func (s *Stats) snapshot() Stats {
	var out Stats
	src := reflect.ValueOf(s).Elem()
	dst := reflect.ValueOf(&out).Elem()
	for i := 0; i < src.NumField(); i++ {
		dst.Field(i).SetUint(atomic.LoadUint64(src.Field(i).Addr().Interface().(*uint64)))
	}
	return out
}
