package tcp

import (
	"math"
	"net/netip"
	"time"
)

// Info is a snapshot of one connection for the socket layer's TCP_INFO
// and sock_diag answers, in the units struct tcp_info uses where that
// is natural (segments for windows, durations for times).
type Info struct {
	// State is the connection state as Linux numbers it (TCP_ESTABLISHED
	// = 1 ... TCP_CLOSING = 11).
	State uint8
	// Retransmits is how many times in a row the retransmission timer
	// expired without progress (icsk_retransmits); Backoff the RTO
	// doublings; Probes the keep-alive probes sent unanswered.
	Retransmits, Backoff, Probes int
	// WScaleOK, SACKOK and TSOK are the options both sides agreed on;
	// SndWScale and RcvWScale the window shifts.
	WScaleOK, SACKOK, TSOK bool
	SndWScale, RcvWScale   int
	RTO                    time.Duration
	// SndMSS is what a data segment carries, AdvMSS what we announced,
	// PeerMSS what the peer announced.
	SndMSS, AdvMSS, PeerMSS int
	// PathMTU is the MTU the route (or the last ICMP message) allows.
	PathMTU int
	// Unacked is the segments in flight.
	Unacked int
	// SinceRecv is the time since the last segment from the peer.
	SinceRecv time.Duration
	// RTT and RTTVar are the smoothed round-trip time and its variance
	// (zero before the first measurement).
	RTT, RTTVar time.Duration
	// Cwnd is the congestion window and Ssthresh the slow-start
	// threshold, in segments (Ssthresh math.MaxInt32 while infinite,
	// as Linux's TCP_INFINITE_SSTHRESH).
	Cwnd, Ssthresh int
	// SndWnd is the peer's receive window in bytes.
	SndWnd int
	// BytesAcked and BytesReceived count the stream's bytes the peer
	// acknowledged and the bytes received in order.
	BytesAcked, BytesReceived uint64
	// InRecovery says fast recovery is under way.
	InRecovery bool
}

// linuxStates maps the states to Linux's numbering (include/net/tcp_states.h).
var linuxStates = [...]uint8{
	stateClosed:      7,
	stateSynSent:     2,
	stateSynRcvd:     3,
	stateEstablished: 1,
	stateFinWait1:    4,
	stateFinWait2:    5,
	stateCloseWait:   8,
	stateClosing:     11,
	stateLastAck:     9,
	stateTimeWait:    6,
}

// Info returns the state of the connection between local and remote;
// ok is false when TCP has no such connection (never opened, or
// already forgotten).
func (p *Protocol) Info(local, remote netip.AddrPort) (info Info, ok bool) {
	c := p.lookup(connKey{unmap(local), unmap(remote)})
	if c == nil {
		return Info{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	info = Info{
		State:       linuxStates[c.state],
		Retransmits: c.retries,
		Backoff:     c.backoff,
		Probes:      c.kaProbes,
		WScaleOK:    c.wsOK,
		SACKOK:      c.sackOK,
		TSOK:        c.tsOK,
		RTO:         c.rto,
		SndMSS:      c.mss,
		AdvMSS:      c.routeMSS,
		PeerMSS:     c.peerMSS,
		RTT:         c.srtt,
		RTTVar:      c.rttvar,
		Cwnd:        int(c.cc.cwndSeg),
		Ssthresh:    math.MaxInt32,
		SndWnd:      c.sndWnd,
		InRecovery:  c.inRecovery,
	}
	info.PathMTU = c.routeMSS + 40
	if c.isV6 {
		info.PathMTU = c.routeMSS + 60
	}
	if c.wsOK {
		info.SndWScale, info.RcvWScale = c.sndShift, c.rcvShift
	}
	if !math.IsInf(c.cc.ssthresh, 1) {
		info.Ssthresh = int(c.cc.ssthresh)
	}
	if c.mss > 0 {
		info.Unacked = (c.sndNxt.sub(c.sndUna) + c.mss - 1) / c.mss
	}
	if !c.lastRecv.IsZero() {
		info.SinceRecv = time.Since(c.lastRecv)
	}
	if c.state.synchronized() {
		// The SYN and FIN each take a sequence number that carries
		// no byte.
		if n := c.sndUna.sub(c.iss) - 1; n > 0 {
			if c.finSent && c.sndUna == c.sndMax {
				n--
			}
			info.BytesAcked = uint64(n)
		}
		n := c.rcvNxt.sub(c.irs) - 1
		switch c.state {
		case stateCloseWait, stateClosing, stateLastAck, stateTimeWait:
			n-- // the peer's FIN
		}
		if n > 0 {
			info.BytesReceived = uint64(n)
		}
	}
	return info, true
}
