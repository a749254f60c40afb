package kernel

import "appkernel.dev/appkernel/pkg/abi/linux"

// maxQueuedRealtime bounds each real-time signal's queue, standing in for
// RLIMIT_SIGPENDING so an application cannot grow Sentry memory without
// limit.
const maxQueuedRealtime = 1024

// pendingSignals is a queue of signals generated but not yet delivered.
// Standard signals coalesce (one pending instance each); real-time
// signals queue every instance in order.
//
// +stateify savable
type pendingSignals struct {
	set    linux.SignalSet
	queues map[linux.Signal][]linux.SignalInfo
}

// enqueue adds info. It reports false if the signal was dropped (a
// standard signal already pending, or a full real-time queue).
func (p *pendingSignals) enqueue(info *linux.SignalInfo) bool {
	sig := linux.Signal(info.Signo)
	if sig.IsStandard() && p.set.Has(sig) {
		return false
	}
	if p.queues == nil {
		p.queues = make(map[linux.Signal][]linux.SignalInfo)
	}
	if len(p.queues[sig]) >= maxQueuedRealtime {
		return false
	}
	p.queues[sig] = append(p.queues[sig], *info)
	p.set |= sig.Mask()
	return true
}

// dequeue removes and returns the lowest-numbered pending signal not in
// blocked, or nil.
func (p *pendingSignals) dequeue(blocked linux.SignalSet) *linux.SignalInfo {
	ready := p.set &^ blocked
	if ready == 0 {
		return nil
	}
	for sig := linux.Signal(1); sig <= linux.NumSignals; sig++ {
		if ready.Has(sig) {
			return p.take(sig)
		}
	}
	return nil
}

// take removes and returns the first queued instance of sig, or nil.
func (p *pendingSignals) take(sig linux.Signal) *linux.SignalInfo {
	q := p.queues[sig]
	if len(q) == 0 {
		return nil
	}
	info := q[0]
	if len(q) == 1 {
		delete(p.queues, sig)
		p.set &^= sig.Mask()
	} else {
		p.queues[sig] = q[1:]
	}
	return &info
}

// discard drops every pending instance of the signals in set.
func (p *pendingSignals) discard(set linux.SignalSet) {
	for sig := linux.Signal(1); sig <= linux.NumSignals; sig++ {
		if set.Has(sig) && p.set.Has(sig) {
			delete(p.queues, sig)
		}
	}
	p.set &^= set
}
