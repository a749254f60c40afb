package tcp

import (
	"math"
	"time"
)

// CUBIC's constants (RFC 9438 section 4).
const (
	cubicC    = 0.4
	cubicBeta = 0.7
	// initialCwnd is RFC 6928's initial window, in segments.
	initialCwnd = 10
)

// cubic is the congestion controller (RFC 9438), in segments.
type cubic struct {
	cwndSeg  float64
	ssthresh float64
	// wMax is the window before the last reduction; k the time CUBIC
	// takes to grow back to it.
	wMax, k float64
	// epoch is when the current congestion-avoidance stage began;
	// cwndEpoch the window then; wEst the Reno-friendly estimate.
	epoch     time.Time
	cwndEpoch float64
	wEst      float64
}

func (cc *cubic) init() {
	cc.cwndSeg = initialCwnd
	cc.ssthresh = math.Inf(1)
}

// cwnd is the congestion window in bytes.
func (c *conn) cwnd() int {
	return int(c.cc.cwndSeg * float64(c.mss))
}

// onAck grows the window for acked new bytes; rtt is the smoothed
// round-trip time.
func (cc *cubic) onAck(acked, mss int, rtt time.Duration, now time.Time) {
	segs := float64(acked) / float64(mss)
	if cc.cwndSeg < cc.ssthresh {
		// Slow start, with RFC 3465's limit of two segments per ACK.
		cc.cwndSeg += math.Min(segs, 2)
		if cc.cwndSeg <= cc.ssthresh {
			return
		}
		cc.cwndSeg = math.Max(cc.ssthresh, 1)
	}
	if cc.epoch.IsZero() {
		cc.epoch = now
		cc.cwndEpoch = cc.cwndSeg
		cc.wEst = cc.cwndSeg
		if cc.wMax < cc.cwndSeg {
			// No reduction yet (left slow start by ssthresh): the
			// window is its own plateau.
			cc.wMax = cc.cwndSeg
		}
		cc.k = math.Cbrt((cc.wMax - cc.cwndEpoch) / cubicC)
	}
	t := now.Sub(cc.epoch).Seconds()
	target := cc.wMax + cubicC*math.Pow(t+rtt.Seconds()-cc.k, 3)
	target = math.Max(cc.cwndSeg, math.Min(target, 1.5*cc.cwndSeg))
	// The Reno-friendly estimate (section 4.3).
	alpha := 3 * (1 - cubicBeta) / (1 + cubicBeta)
	if cc.wEst >= cc.wMax {
		alpha = 1
	}
	cc.wEst += alpha * segs / cc.cwndSeg
	wCubic := cc.wMax + cubicC*math.Pow(t-cc.k, 3)
	if wCubic < cc.wEst {
		cc.cwndSeg = math.Max(cc.cwndSeg, cc.wEst)
		return
	}
	cc.cwndSeg += (target - cc.cwndSeg) / cc.cwndSeg * segs
}

// onLoss is a congestion event found by duplicate ACKs or SACK.
func (cc *cubic) onLoss() {
	w := cc.cwndSeg
	if w < cc.wMax {
		// Fast convergence (section 4.7).
		cc.wMax = w * (1 + cubicBeta) / 2
	} else {
		cc.wMax = w
	}
	cc.ssthresh = math.Max(w*cubicBeta, 2)
	cc.cwndSeg = cc.ssthresh
	cc.epoch = time.Time{}
}

// onTimeout is a retransmission timeout: back to one segment.
func (cc *cubic) onTimeout(pipe, mss int) {
	cc.onLoss()
	cc.ssthresh = math.Max(float64(pipe)/float64(mss)*cubicBeta, 2)
	cc.cwndSeg = 1
}

// cwndLimited keeps the window from growing while the sender is not using
// it (RFC 7661's idea, simply): growth needs at least half of it in
// flight.
func (c *conn) cwndLimited(flight int) bool {
	return flight*2 >= c.cwnd()
}
