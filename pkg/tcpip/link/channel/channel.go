// Package channel joins two tcpip.LinkEndpoints back to back in memory,
// like two hosts on one Ethernet cable, for tests of the packet stack
// and the protocols above it. A hook on each direction can drop,
// reorder, duplicate or inspect frames in flight.
package channel

import (
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/tcpip"
)

// queueLen is how many batches a direction holds before it drops, as a
// full transmit queue would.
const queueLen = 4096

// Hook sees every batch of frames one endpoint writes, before the peer
// receives them. The frames are the link's own copies: a hook may keep
// them and return them later. Whatever it returns is delivered, in that
// order.
type Hook func(frames [][]byte) [][]byte

// Endpoint is one end of the cable.
type Endpoint struct {
	mtu  uint32
	addr tcpip.LinkAddress
	peer *Endpoint

	// in carries batches the peer wrote (or Inject added) to this
	// endpoint's delivery goroutine.
	in   chan [][]byte
	done chan struct{}
	// closeOnce makes Close idempotent.
	closeOnce sync.Once

	// mu guards hook and the attach state.
	mu       sync.Mutex
	hook     Hook
	attached bool

	// Dropped counts frames lost because the receive queue was full
	// or the endpoint closed.
	Dropped atomic.Uint64
	// Written counts frames this endpoint wrote.
	Written atomic.Uint64
}

// Pair returns two connected endpoints with the given MAC addresses and
// the same MTU.
func Pair(a, b tcpip.LinkAddress, mtu uint32) (*Endpoint, *Endpoint) {
	ea := &Endpoint{mtu: mtu, addr: a, in: make(chan [][]byte, queueLen), done: make(chan struct{})}
	eb := &Endpoint{mtu: mtu, addr: b, in: make(chan [][]byte, queueLen), done: make(chan struct{})}
	ea.peer, eb.peer = eb, ea
	return ea, eb
}

// MTU implements tcpip.LinkEndpoint.
func (e *Endpoint) MTU() uint32 { return e.mtu }

// LinkAddress implements tcpip.LinkEndpoint.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress { return e.addr }

// SetHook installs h on frames this endpoint writes (nil removes it).
func (e *Endpoint) SetHook(h Hook) {
	e.mu.Lock()
	e.hook = h
	e.mu.Unlock()
}

// WriteFrames implements tcpip.LinkEndpoint: it copies the frames and
// queues them for the peer.
func (e *Endpoint) WriteFrames(frames [][]byte) error {
	batch := make([][]byte, len(frames))
	for i, f := range frames {
		batch[i] = append([]byte(nil), f...)
	}
	e.Written.Add(uint64(len(frames)))
	e.mu.Lock()
	h := e.hook
	e.mu.Unlock()
	if h != nil {
		batch = h(batch)
	}
	e.peer.Inject(batch)
	return nil
}

// Inject queues frames for delivery to this endpoint's dispatcher as if
// they had arrived on the wire; the endpoint takes ownership of them.
func (e *Endpoint) Inject(frames [][]byte) {
	if len(frames) == 0 {
		return
	}
	select {
	case <-e.done:
		e.Dropped.Add(uint64(len(frames)))
		return
	default:
	}
	select {
	case e.in <- frames:
	default:
		e.Dropped.Add(uint64(len(frames)))
	}
}

// Attach implements tcpip.LinkEndpoint: it starts the goroutine that
// delivers received batches to d.
func (e *Endpoint) Attach(d tcpip.FrameDispatcher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.attached {
		panic("channel: Attach called twice")
	}
	e.attached = true
	go func() {
		for {
			select {
			case <-e.done:
				return
			case b := <-e.in:
				d.DeliverFrames(b)
			}
		}
	}()
}

// Close implements tcpip.LinkEndpoint.
func (e *Endpoint) Close() {
	e.closeOnce.Do(func() { close(e.done) })
}
