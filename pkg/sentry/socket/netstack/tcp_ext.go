package netstack

import (
	"encoding/binary"
	"net/netip"
	"time"

	"appkernel.dev/appkernel/pkg/tcpip/tcp"
)

// This file is what a TCP socket whose connection leaves the sandbox
// passes to the packet stack's TCP and reads back from it: keep-alive
// settings, and the connection's state for TCP_INFO.

// TCPInformer is implemented by an External stack that can describe
// its TCP connections; without it, TCP_INFO on an external connection
// reports what the socket layer knows.
type TCPInformer interface {
	// TCPInfo returns the state of the connection from local to
	// remote; ok is false when the stack has no such connection.
	TCPInfo(local, remote netip.AddrPort) (info tcp.Info, ok bool)
}

// pushKeepaliveLocked hands the socket's keep-alive options to the
// packet stack, which (re)arms its timer from them: probing starts
// after TCP_KEEPIDLE seconds of silence while SO_KEEPALIVE is on.
func (e *tcpEndpoint) pushKeepaliveLocked() {
	if e.far == nil {
		return
	}
	o := &e.opts
	e.far.SetKeepalive(o.KeepAlive, time.Duration(o.keepIdle)*time.Second, time.Duration(o.keepIntvl)*time.Second, int(o.keepCnt))
}

// externalInfoLocked returns the packet stack's view of an external
// connection, if there is one.
func (e *tcpEndpoint) externalInfoLocked() (tcp.Info, bool) {
	if e.far == nil || e.state != tcpConnected {
		return tcp.Info{}, false
	}
	ti, ok := e.stack.External.(TCPInformer)
	if !ok {
		return tcp.Info{}, false
	}
	return ti.TCPInfo(e.local, e.remote)
}

// Option bits of tcpi_options.
const (
	tcpiOptTimestamps = 1
	tcpiOptSACK       = 2
	tcpiOptWScale     = 4
)

// fillExternalTCPInfo writes the packet stack's numbers into b, a
// struct tcp_info. The socket's own state (which sees shutdowns before
// the packets go out) stays in tcpi_state.
func fillExternalTCPInfo(b []byte, in *tcp.Info, rcvWindow int) {
	le := binary.LittleEndian
	us := func(d time.Duration) uint32 { return uint32(d / time.Microsecond) }
	if in.InRecovery {
		b[1] = 3 // TCP_CA_Recovery
	} else if in.Retransmits > 0 {
		b[1] = 4 // TCP_CA_Loss
	}
	b[2] = uint8(min(in.Retransmits, 255))
	b[3] = uint8(min(in.Probes, 255))
	b[4] = uint8(min(in.Backoff, 255))
	var opts uint8
	if in.TSOK {
		opts |= tcpiOptTimestamps
	}
	if in.SACKOK {
		opts |= tcpiOptSACK
	}
	if in.WScaleOK {
		opts |= tcpiOptWScale
		b[6] = uint8(in.SndWScale&0xf) | uint8(in.RcvWScale&0xf)<<4
	}
	b[5] = opts
	le.PutUint32(b[8:], us(in.RTO))
	le.PutUint32(b[16:], uint32(in.SndMSS))
	le.PutUint32(b[20:], uint32(in.PeerMSS))
	le.PutUint32(b[24:], uint32(in.Unacked))
	le.PutUint32(b[52:], uint32(in.SinceRecv/time.Millisecond)) // tcpi_last_data_recv
	le.PutUint32(b[56:], uint32(in.SinceRecv/time.Millisecond)) // tcpi_last_ack_recv
	le.PutUint32(b[60:], uint32(in.PathMTU))
	le.PutUint32(b[64:], uint32(rcvWindow)) // tcpi_rcv_ssthresh
	le.PutUint32(b[68:], us(in.RTT))
	le.PutUint32(b[72:], us(in.RTTVar))
	le.PutUint32(b[76:], uint32(in.Ssthresh))
	le.PutUint32(b[80:], uint32(in.Cwnd))
	le.PutUint32(b[84:], uint32(in.AdvMSS))
	le.PutUint32(b[96:], uint32(rcvWindow)) // tcpi_rcv_space
	le.PutUint64(b[120:], in.BytesAcked)
	le.PutUint64(b[128:], in.BytesReceived)
	le.PutUint32(b[228:], uint32(in.SndWnd))
}
