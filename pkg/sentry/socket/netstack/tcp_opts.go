package netstack

import (
	"context"
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// MSS values Linux reports over lo (MTU 65536): TCP_MAXSEG before a
// connection exists is the RFC default, after it is what the handshake
// on lo settles on.
const (
	tcpDefaultMSS  = 536
	tcpLoopbackMSS = 65483
	// sizeofTCPInfo is struct tcp_info as of Linux 6.x.
	sizeofTCPInfo = 248
)

// GetSockOpt implements socket.Socket.
func (e *tcpEndpoint) GetSockOpt(_ context.Context, level, name int) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch level {
	case socket.SOL_SOCKET:
		switch name {
		case socket.SO_TYPE:
			return socket.Int32Bytes(socket.SOCK_STREAM), nil
		case socket.SO_DOMAIN:
			return socket.Int32Bytes(int32(e.family)), nil
		case socket.SO_PROTOCOL:
			return socket.Int32Bytes(ipprotoTCP), nil
		case socket.SO_ACCEPTCONN:
			return socket.Int32Bytes(socket.BoolInt(e.state == tcpListening)), nil
		case socket.SO_ERROR:
			return socket.Int32Bytes(e.takeErrorLocked()), nil
		}
		if v, ok := e.opts.getSocketOpt(name); ok {
			return v, nil
		}
		return nil, linux.ENOPROTOOPT
	case ipprotoTCP:
		return e.getTCPOptLocked(name)
	case ipprotoIP, ipprotoIPv6:
		return e.opts.getIPOpt(e.family, level, name)
	}
	return nil, errUnknownLevel(e.family)
}

// takeErrorLocked returns and clears the pending error, as SO_ERROR.
func (e *tcpEndpoint) takeErrorLocked() int32 {
	var err error
	if e.err != nil {
		err, e.err = e.err, nil
	} else if e.state == tcpConnected {
		c := e.c
		c.mu.Lock()
		err, c.side[e.side].err = c.side[e.side].err, nil
		c.mu.Unlock()
	}
	if errno, ok := err.(linux.Errno); ok {
		return int32(errno)
	}
	return 0
}

func (e *tcpEndpoint) getTCPOptLocked(name int) ([]byte, error) {
	o := &e.opts
	switch name {
	case tcpNoDelay:
		return socket.Int32Bytes(socket.BoolInt(o.noDelay)), nil
	case tcpCork:
		return socket.Int32Bytes(socket.BoolInt(o.cork)), nil
	case tcpQuickAck:
		return socket.Int32Bytes(socket.BoolInt(o.quickAck)), nil
	case tcpKeepIdle:
		return socket.Int32Bytes(o.keepIdle), nil
	case tcpKeepIntvl:
		return socket.Int32Bytes(o.keepIntvl), nil
	case tcpKeepCnt:
		return socket.Int32Bytes(o.keepCnt), nil
	case tcpUserTimeout:
		return socket.Int32Bytes(o.userTimeout), nil
	case tcpMaxSeg:
		if e.state == tcpConnected {
			if o.maxSeg > 0 {
				return socket.Int32Bytes(min(o.maxSeg, tcpLoopbackMSS)), nil
			}
			return socket.Int32Bytes(tcpLoopbackMSS), nil
		}
		if o.maxSeg > 0 {
			return socket.Int32Bytes(o.maxSeg), nil
		}
		return socket.Int32Bytes(tcpDefaultMSS), nil
	case tcpCongestion:
		b := make([]byte, 16)
		copy(b, "cubic")
		return b, nil
	case tcpInfo:
		return e.tcpInfoLocked(), nil
	}
	return nil, linux.ENOPROTOOPT
}

// tcpStateLocked is the socket's state as Linux names it.
func (e *tcpEndpoint) tcpStateLocked() uint8 {
	switch e.state {
	case tcpListening:
		return linuxListen
	case tcpSynSent:
		return linuxSynSent
	case tcpConnected:
	default:
		return linuxClose
	}
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	me := &c.side[e.side]
	switch {
	case me.reset:
		return linuxClose
	case !me.sndShut && !me.gotFin:
		return linuxEstablished
	case me.sndShut && !me.gotFin:
		// The peer acknowledged our FIN at once.
		return linuxFinWait2
	case !me.sndShut:
		return linuxCloseWait
	}
	// Both FINs are acknowledged: the side that closed first is in
	// TIME_WAIT, which Linux keeps in a separate mini-socket while the
	// socket itself reports CLOSE; the other side's LAST_ACK is over.
	return linuxClose
}

// tcpInfoLocked builds struct tcp_info. A connection that leaves the
// sandbox reports the packet stack's numbers; a loopback connection
// has only its state, the MSS and the path MTU of lo: no packet is ever
// lost, so the retransmission and congestion counters stay at their
// initial values.
func (e *tcpEndpoint) tcpInfoLocked() []byte {
	b := make([]byte, sizeofTCPInfo)
	b[0] = e.tcpStateLocked()
	le := binary.LittleEndian
	if in, ok := e.externalInfoLocked(); ok {
		fillExternalTCPInfo(b, &in, e.opts.window())
		return b
	}
	mss := uint32(tcpDefaultMSS)
	if e.state == tcpConnected {
		mss = tcpLoopbackMSS
	}
	le.PutUint32(b[8:], 200000)      // tcpi_rto: TCP_TIMEOUT_INIT, in us
	le.PutUint32(b[12:], 40000)      // tcpi_ato: TCP_ATO_MIN
	le.PutUint32(b[16:], mss)        // tcpi_snd_mss
	le.PutUint32(b[20:], mss)        // tcpi_rcv_mss
	le.PutUint32(b[60:], 65536)      // tcpi_pmtu
	le.PutUint32(b[76:], 0x7fffffff) // tcpi_snd_ssthresh: TCP_INFINITE_SSTHRESH
	le.PutUint32(b[80:], 10)         // tcpi_snd_cwnd: TCP_INIT_CWND
	le.PutUint32(b[84:], mss)        // tcpi_advmss
	le.PutUint32(b[88:], 3)          // tcpi_reordering
	return b
}

// SetSockOpt implements socket.Socket.
func (e *tcpEndpoint) SetSockOpt(level, name int, val []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch level {
	case socket.SOL_SOCKET:
		ok, err := e.opts.setSocketOpt(name, val)
		if !ok {
			return linux.ENOPROTOOPT
		}
		if err == nil && (name == socket.SO_REUSEADDR || name == socket.SO_REUSEPORT) {
			e.stack.setReuse(e.bind, &e.opts)
		}
		if err == nil && name == socket.SO_KEEPALIVE {
			e.pushKeepaliveLocked()
		}
		if err == nil && name == socket.SO_OOBINLINE && e.state == tcpConnected {
			c := e.c
			c.mu.Lock()
			c.side[e.side].inline = e.opts.OOBInline
			c.mu.Unlock()
		}
		if err == nil && name == socket.SO_RCVBUF && e.state == tcpConnected {
			c := e.c
			c.mu.Lock()
			c.side[e.side].limit = e.opts.window()
			c.mu.Unlock()
			c.notifyBoth()
		}
		return err
	case ipprotoTCP:
		return e.setTCPOptLocked(name, val)
	case ipprotoIP, ipprotoIPv6:
		return e.opts.setIPOpt(e.family, socket.SOCK_STREAM, level, name, val, e.bind != nil)
	}
	return linux.ENOPROTOOPT
}

func (e *tcpEndpoint) setTCPOptLocked(name int, val []byte) error {
	o := &e.opts
	if name == tcpCongestion {
		n := 0
		for n < len(val) && val[n] != 0 {
			n++
		}
		switch string(val[:n]) {
		case "cubic", "reno":
			return nil
		}
		return linux.ENOENT
	}
	switch name {
	case tcpNoDelay, tcpCork, tcpQuickAck, tcpKeepIdle, tcpKeepIntvl, tcpKeepCnt, tcpUserTimeout, tcpMaxSeg:
	default:
		return linux.ENOPROTOOPT
	}
	v, err := socket.IntOpt(val)
	if err != nil {
		return err
	}
	switch name {
	case tcpNoDelay:
		o.noDelay = v != 0
	case tcpCork:
		// Bytes are handed to the peer at once on the loopback path,
		// corked or not; TCP_CORK only changes how Linux packs them
		// into segments.
		o.cork = v != 0
	case tcpQuickAck:
		o.quickAck = v != 0
	case tcpKeepIdle, tcpKeepIntvl:
		if v < 1 || v > 32767 {
			return linux.EINVAL
		}
		if name == tcpKeepIdle {
			o.keepIdle = v
		} else {
			o.keepIntvl = v
		}
	case tcpKeepCnt:
		if v < 1 || v > 127 {
			return linux.EINVAL
		}
		o.keepCnt = v
	case tcpUserTimeout:
		if v < 0 {
			return linux.EINVAL
		}
		o.userTimeout = v
	case tcpMaxSeg:
		if v != 0 && (v < 88 || v > 32767) {
			return linux.EINVAL
		}
		o.maxSeg = v
	}
	switch name {
	case tcpKeepIdle, tcpKeepIntvl, tcpKeepCnt:
		e.pushKeepaliveLocked()
	}
	return nil
}
