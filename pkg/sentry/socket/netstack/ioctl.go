package netstack

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func copyOutInt(ctx context.Context, m vfs.UserMemory, addr uint64, v int32) error {
	_, err := m.CopyOutBytes(ctx, addr, socket.Int32Bytes(v))
	return err
}

// Ioctl implements vfs.FileDescriptionImpl: SIOCINQ (FIONREAD),
// SIOCOUTQ and SIOCATMARK, then the interface requests.
func (e *tcpEndpoint) Ioctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case siocInQ, siocOutQ:
		e.mu.Lock()
		st, c, side := e.state, e.c, e.side
		e.mu.Unlock()
		if st == tcpListening {
			return 0, linux.EINVAL
		}
		var v int
		if st == tcpConnected && cmd == siocInQ {
			c.mu.Lock()
			v = c.side[side].inqLocked()
			c.mu.Unlock()
		}
		// Bytes sent are in the peer's queue at once, which counts
		// as acknowledged: SIOCOUTQ is always 0.
		return 0, copyOutInt(ctx, m, arg, int32(v))
	case siocAtMark:
		// Any socket answers, a listener too (0).
		e.mu.Lock()
		st, c, side := e.state, e.c, e.side
		e.mu.Unlock()
		var v bool
		if st == tcpConnected {
			c.mu.Lock()
			v = c.side[side].atMarkLocked()
			c.mu.Unlock()
		}
		return 0, copyOutInt(ctx, m, arg, socket.BoolInt(v))
	}
	return InterfaceIoctl(ctx, e.stack, m, cmd, arg)
}

// Ioctl implements vfs.FileDescriptionImpl: SIOCINQ is the size of the
// next datagram, SIOCOUTQ is 0 (sent datagrams are delivered at once).
func (e *udpEndpoint) Ioctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case siocInQ:
		e.rmu.Lock()
		v := 0
		if len(e.rq) > 0 {
			v = len(e.rq[0].data)
		}
		e.rmu.Unlock()
		return 0, copyOutInt(ctx, m, arg, int32(v))
	case siocOutQ:
		return 0, copyOutInt(ctx, m, arg, 0)
	}
	return InterfaceIoctl(ctx, e.stack, m, cmd, arg)
}

// InterfaceIoctl answers the netdevice(7) requests any socket takes:
// SIOCGIFCONF and the SIOCGIF* queries by name (SIOCGIFNAME by index).
// Other requests are ENOTTY.
func InterfaceIoctl(ctx context.Context, s *Stack, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	if cmd == siocGIfConf {
		return 0, s.ifconf(ctx, m, arg)
	}
	switch cmd {
	case siocGIfName, siocGIfFlags, siocGIfAddr, siocGIfBrdAddr, siocGIfNetmask, siocGIfMetric,
		siocGIfMTU, siocGIfHwAddr, siocGIfIndex, siocGIfTxQLen:
	default:
		return 0, linux.ENOTTY
	}
	var req [sizeofIfreq]byte
	if _, err := m.CopyInBytes(ctx, arg, req[:]); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	var ifc *Interface
	if cmd == siocGIfName {
		idx := int32(le.Uint32(req[16:]))
		for i := range s.ifaces {
			if s.ifaces[i].Index == idx {
				ifc = &s.ifaces[i]
			}
		}
		if ifc == nil {
			return 0, linux.ENODEV
		}
		clear(req[:16])
		copy(req[:15], ifc.Name)
		_, err := m.CopyOutBytes(ctx, arg, req[:])
		return 0, err
	}
	name := req[:16]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if ifc = s.interfaceByName(string(name)); ifc == nil {
		return 0, linux.ENODEV
	}
	u := req[16:]
	clear(u)
	switch cmd {
	case siocGIfFlags:
		le.PutUint16(u, uint16(ifc.Flags))
	case siocGIfIndex:
		le.PutUint32(u, uint32(ifc.Index))
	case siocGIfMTU:
		le.PutUint32(u, ifc.MTU)
	case siocGIfMetric:
		le.PutUint32(u, 0)
	case siocGIfTxQLen:
		le.PutUint32(u, ifc.TxQLen)
	case siocGIfHwAddr:
		le.PutUint16(u, ifc.Type)
		copy(u[2:], ifc.HWAddr)
	case siocGIfAddr, siocGIfNetmask, siocGIfBrdAddr:
		p, ok := firstIPv4(ifc)
		if !ok {
			return 0, linux.EADDRNOTAVAIL
		}
		a := p.Addr()
		switch cmd {
		case siocGIfNetmask:
			a = prefixMask(p.Bits())
		case siocGIfBrdAddr:
			// lo has no broadcast address: Linux reports 0.0.0.0.
			a = netip.IPv4Unspecified()
		}
		copy(u, formatSockaddr(socket.AF_INET, netip.AddrPortFrom(a, 0)))
	}
	_, err := m.CopyOutBytes(ctx, arg, req[:])
	return 0, err
}

func firstIPv4(ifc *Interface) (netip.Prefix, bool) {
	for _, a := range ifc.Addrs {
		if a.Prefix.Addr().Is4() {
			return a.Prefix, true
		}
	}
	return netip.Prefix{}, false
}

func prefixMask(bits int) netip.Addr {
	v := ^uint32(0) << (32 - bits)
	if bits == 0 {
		v = 0
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// ifconf implements SIOCGIFCONF: one struct ifreq per IPv4 address.
// With a null buffer it reports the length needed.
func (s *Stack) ifconf(ctx context.Context, m vfs.UserMemory, arg uint64) error {
	var hdr [sizeofIfconf]byte
	if _, err := m.CopyInBytes(ctx, arg, hdr[:]); err != nil {
		return err
	}
	le := binary.LittleEndian
	room := int(int32(le.Uint32(hdr[0:])))
	buf := le.Uint64(hdr[8:])
	var out []byte
	for i := range s.ifaces {
		ifc := &s.ifaces[i]
		p, ok := firstIPv4(ifc)
		if !ok {
			continue
		}
		var r [sizeofIfreq]byte
		copy(r[:15], ifc.Name)
		copy(r[16:], formatSockaddr(socket.AF_INET, netip.AddrPortFrom(p.Addr(), 0)))
		out = append(out, r[:]...)
	}
	n := len(out)
	if buf != 0 {
		n = min(room/sizeofIfreq, len(out)/sizeofIfreq) * sizeofIfreq
		if n > 0 {
			if _, err := m.CopyOutBytes(ctx, buf, out[:n]); err != nil {
				return err
			}
		}
	}
	le.PutUint32(hdr[0:], uint32(n))
	_, err := m.CopyOutBytes(ctx, arg, hdr[:4])
	return err
}
