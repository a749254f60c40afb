// Package packet is a tcpip.LinkEndpoint over a host AF_PACKET socket
// bound to one interface (the veth an engine put in the container's
// network namespace): the sandbox's packet stack exchanges whole
// Ethernet frames with the host through it.
//
// Reads are batched with recvmmsg into a ring of buffers, by one
// goroutine that blocks in the host call (MSG_WAITFORONE: it returns as
// soon as one frame is there, with as many more as are queued). Writes
// are batched with sendmmsg straight from the caller's slices.
//
// The socket is opened with PACKET_VNET_HDR: every frame carries a
// virtio-net header saying whether the host left its transport checksum
// to be completed (a host socket sending over a veth does: the device
// claims checksum offload) and whether it is a TCP segmentation offload
// super-frame, which this endpoint cuts into MTU-sized segments before
// the stack sees it. Frames the stack sends go out with an empty header:
// complete, one segment each.
//
// Host system calls at run time (for the Sentry's seccomp filter), all
// on the socket's fd: recvmmsg(MSG_WAITFORONE), sendmmsg(0), close.
package packet

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
)

const (
	// vnetHdrLen is sizeof(struct virtio_net_hdr).
	vnetHdrLen = 10
	// maxFrame is the largest frame a read takes: a 64 KiB offload
	// super-frame with its Ethernet header and some slack.
	maxFrame = 65536 + 64
	// defaultBatch is how many frames one recvmmsg takes.
	defaultBatch = 32
	// pollTimeout bounds how long the reader sits in recvmmsg before
	// it looks whether the endpoint was closed: a blocked read on a
	// packet socket cannot be woken otherwise.
	pollTimeout = 500 * 1000 // microseconds
)

// Config describes the link.
type Config struct {
	// MTU is the interface's MTU (the largest IP packet).
	MTU uint32
	// MAC is the interface's own address.
	MAC tcpip.LinkAddress
	// Batch is how many frames one read takes; 0 means 32.
	Batch int
}

// Stats are the endpoint's counters.
type Stats struct {
	RxFrames, RxBytes, RxBatches uint64
	// RxDropped counts frames ignored: the socket's own sends looped
	// back, frames for other hosts, malformed offload frames.
	RxDropped uint64
	// RxSegmented counts offload super-frames cut into segments.
	RxSegmented                  uint64
	TxFrames, TxBytes, TxBatches uint64
	// TxDropped counts frames the host refused (ENOBUFS and the like:
	// a full queue, which the transport recovers from as from loss).
	TxDropped uint64
}

// Endpoint is the link endpoint.
type Endpoint struct {
	cfg Config
	fd  int

	// mu guards closed; WriteFrames holds it for reading so that the
	// fd is not closed under a send.
	mu     sync.RWMutex
	closed bool
	// stop asks the reader to end; done is closed when it has.
	stop atomic.Bool
	done chan struct{}
	// started is set by Attach.
	started atomic.Bool

	// txPool holds write batches (mmsghdr arrays and iovecs), so that
	// concurrent writers do not share them and a write allocates
	// nothing.
	txPool sync.Pool

	rxFrames, rxBytes, rxBatches, rxDropped, rxSegmented atomic.Uint64
	txFrames, txBytes, txBatches, txDropped              atomic.Uint64
}

// New wraps fd, an AF_PACKET SOCK_RAW socket bound to the interface with
// ETH_P_ALL. It turns on PACKET_VNET_HDR and the read timeout (setup
// calls, made before the seccomp filter is installed); the endpoint owns
// fd from then on, also on error.
func New(fd int, cfg Config) (*Endpoint, error) {
	if cfg.MTU < 68 || cfg.MTU > 65535 {
		unix.Close(fd)
		return nil, fmt.Errorf("packet endpoint: MTU %d", cfg.MTU)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = defaultBatch
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet endpoint: PACKET_VNET_HDR: %w", err)
	}
	tv := unix.NsecToTimeval(pollTimeout * 1000)
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet endpoint: SO_RCVTIMEO: %w", err)
	}
	e := &Endpoint{cfg: cfg, fd: fd, done: make(chan struct{})}
	e.txPool.New = func() any { return &txBatch{} }
	return e, nil
}

// FD is the host socket, for the seccomp filter's fd-specific rules.
func (e *Endpoint) FD() int { return e.fd }

// MTU implements tcpip.LinkEndpoint.
func (e *Endpoint) MTU() uint32 { return e.cfg.MTU }

// LinkAddress implements tcpip.LinkEndpoint.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress { return e.cfg.MAC }

// Stats returns the counters.
func (e *Endpoint) Stats() Stats {
	return Stats{
		RxFrames: e.rxFrames.Load(), RxBytes: e.rxBytes.Load(), RxBatches: e.rxBatches.Load(),
		RxDropped: e.rxDropped.Load(), RxSegmented: e.rxSegmented.Load(),
		TxFrames: e.txFrames.Load(), TxBytes: e.txBytes.Load(), TxBatches: e.txBatches.Load(),
		TxDropped: e.txDropped.Load(),
	}
}

// mmsghdr is struct mmsghdr (64-bit layout).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// txBatch is the scratch space of one sendmmsg.
type txBatch struct {
	msgs []mmsghdr
	iovs []unix.Iovec
}

// zeroVnetHdr is the header of every frame sent: no offload asked for.
// The kernel only reads it.
var zeroVnetHdr [vnetHdrLen]byte

// WriteFrames implements tcpip.LinkEndpoint.
func (e *Endpoint) WriteFrames(frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return linux.EBADF
	}
	b := e.txPool.Get().(*txBatch)
	defer e.txPool.Put(b)
	for len(frames) > 0 {
		n := min(len(frames), 64)
		if cap(b.msgs) < n {
			b.msgs = make([]mmsghdr, n)
			b.iovs = make([]unix.Iovec, 2*n)
		}
		msgs, iovs := b.msgs[:n], b.iovs[:2*n]
		for i, f := range frames[:n] {
			iovs[2*i].Base, iovs[2*i].Len = &zeroVnetHdr[0], vnetHdrLen
			if len(f) > 0 {
				iovs[2*i+1].Base = &f[0]
			} else {
				iovs[2*i+1].Base = nil
			}
			iovs[2*i+1].SetLen(len(f))
			msgs[i] = mmsghdr{}
			msgs[i].hdr.Iov = &iovs[2*i]
			msgs[i].hdr.SetIovlen(2)
		}
		sent, err := sendmmsg(e.fd, msgs)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			// The first frame was refused: count it lost and go on,
			// as a full device queue drops it.
			e.txDropped.Add(1)
			sent = 1
		default:
			for _, f := range frames[:sent] {
				e.txBytes.Add(uint64(len(f)))
			}
			e.txFrames.Add(uint64(sent))
		}
		e.txBatches.Add(1)
		frames = frames[sent:]
	}
	for i := range b.msgs {
		b.msgs[i] = mmsghdr{}
	}
	for i := range b.iovs {
		b.iovs[i] = unix.Iovec{}
	}
	return nil
}

// Attach implements tcpip.LinkEndpoint.
func (e *Endpoint) Attach(d tcpip.FrameDispatcher) {
	if e.started.Swap(true) {
		panic("packet: Attach called twice")
	}
	go e.readLoop(d)
}

// Close implements tcpip.LinkEndpoint. The reader notices within
// pollTimeout and closes the socket.
func (e *Endpoint) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	e.stop.Store(true)
	if !e.started.Load() {
		unix.Close(e.fd)
		close(e.done)
		return
	}
	<-e.done
}

// readLoop reads frames until Close.
func (e *Endpoint) readLoop(d tcpip.FrameDispatcher) {
	defer close(e.done)
	defer unix.Close(e.fd)
	n := e.cfg.Batch
	bufs := make([][]byte, n)
	hdrs := make([][vnetHdrLen]byte, n)
	names := make([]unix.RawSockaddrLinklayer, n)
	iovs := make([]unix.Iovec, 2*n)
	msgs := make([]mmsghdr, n)
	for i := range bufs {
		bufs[i] = make([]byte, maxFrame)
		iovs[2*i].Base = &hdrs[i][0]
		iovs[2*i].SetLen(vnetHdrLen)
		iovs[2*i+1].Base = &bufs[i][0]
		iovs[2*i+1].SetLen(maxFrame)
	}
	var seg segmenter
	out := make([][]byte, 0, n)
	for !e.stop.Load() {
		for i := range msgs {
			msgs[i] = mmsghdr{}
			msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
			msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(names[i]))
			msgs[i].hdr.Iov = &iovs[2*i]
			msgs[i].hdr.SetIovlen(2)
		}
		got, err := recvmmsg(e.fd, msgs)
		if err != nil {
			// EAGAIN: the read timed out; EINTR: a signal. Anything
			// else (the interface went away: ENETDOWN, ENXIO) ends
			// the link.
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err == unix.ENETDOWN {
				continue
			}
			return
		}
		e.rxBatches.Add(1)
		out = out[:0]
		seg.reset()
		for i := 0; i < got; i++ {
			switch names[i].Pkttype {
			case unix.PACKET_OUTGOING, unix.PACKET_OTHERHOST:
				e.rxDropped.Add(1)
				continue
			}
			ln := int(msgs[i].len) - vnetHdrLen
			if ln < 14 || ln > maxFrame {
				e.rxDropped.Add(1)
				continue
			}
			frame := bufs[i][:ln]
			e.rxFrames.Add(1)
			e.rxBytes.Add(uint64(ln))
			var h vnetHdr
			h.decode(hdrs[i][:])
			switch {
			case h.gsoType != gsoNone:
				segs, ok := seg.segment(frame, &h, int(e.cfg.MTU))
				if !ok {
					e.rxDropped.Add(1)
					continue
				}
				e.rxSegmented.Add(1)
				out = append(out, segs...)
			case h.flags&needsCsum != 0:
				if !completeChecksum(frame, &h) {
					e.rxDropped.Add(1)
					continue
				}
				out = append(out, frame)
			default:
				out = append(out, frame)
			}
		}
		if len(out) > 0 {
			d.DeliverFrames(out)
		}
	}
}

func recvmmsg(fd int, msgs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_WAITFORONE, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func sendmmsg(fd int, msgs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
