package netlink

import (
	"bytes"
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/netstack"
)

// request is one rtnetlink request being answered.
type request struct {
	h       header
	payload []byte // after the nlmsghdr
	portID  uint32
}

// reply collects the datagrams answering a request.
type reply struct {
	dgrams [][]byte
}

// dump sends msgs as a multipart dump followed by NLMSG_DONE, each in
// its own datagram as Linux's dumps end.
func (r *reply) dump(req request, msgs [][]byte) {
	var d []byte
	for _, m := range msgs {
		d = append(d, m...)
	}
	if len(d) > 0 {
		r.dgrams = append(r.dgrams, d)
	}
	m := newMessage(nlmsgDone, nlmFMulti, req.h.seq, req.portID)
	m.put(make([]byte, 4)) // the dump's status: 0
	r.dgrams = append(r.dgrams, m.done())
}

// ack answers with NLMSG_ERROR: err (a Linux errno, 0 for an
// acknowledgement) and the request's header, plus its payload for a
// real error unless capped.
func (r *reply) ack(req request, err linux.Errno, capped bool) {
	flags := uint16(0)
	if err == 0 || capped {
		flags = nlmFCapped
	}
	m := newMessage(nlmsgError, flags, req.h.seq, req.portID)
	var e [4]byte
	binary.LittleEndian.PutUint32(e[:], uint32(-int32(err)))
	m.put(e[:])
	orig := make([]byte, sizeofNlmsghdr)
	binary.LittleEndian.PutUint32(orig[0:], req.h.len)
	binary.LittleEndian.PutUint16(orig[4:], req.h.typ)
	binary.LittleEndian.PutUint16(orig[6:], req.h.flags)
	binary.LittleEndian.PutUint32(orig[8:], req.h.seq)
	binary.LittleEndian.PutUint32(orig[12:], req.h.pid)
	if flags == 0 {
		orig = append(orig, req.payload...)
	}
	m.put(orig)
	r.dgrams = append(r.dgrams, m.done())
}

// reqFamily is the address family a dump request filters on: the first
// byte of its rtgenmsg/ifaddrmsg/rtmsg, if present.
func reqFamily(p []byte) int {
	if len(p) == 0 {
		return socket.AF_UNSPEC
	}
	return int(p[0])
}

// linkMessage is RTM_NEWLINK for ifc.
func linkMessage(ifc *netstack.Interface, flags uint16, seq, pid uint32) []byte {
	m := newMessage(rtmNewLink, flags, seq, pid)
	var hdr [sizeofIfinfomsg]byte
	le := binary.LittleEndian
	le.PutUint16(hdr[2:], ifc.Type)
	le.PutUint32(hdr[4:], uint32(ifc.Index))
	le.PutUint32(hdr[8:], ifc.Flags)
	m.put(hdr[:])
	m.attrString(iflaIfname, ifc.Name)
	m.attrU32(iflaTxQLen, ifc.TxQLen)
	m.attrU8(iflaOperstate, ifOperUnknown)
	m.attrU8(iflaLinkmode, 0)
	m.attrU32(iflaMTU, ifc.MTU)
	m.attrU32(iflaMinMTU, 0)
	m.attrU32(iflaMaxMTU, 0)
	m.attrU32(iflaGroup, 0)
	m.attrU32(iflaPromiscuity, 0)
	m.attrU32(iflaNumTxQueues, 1)
	m.attrU32(iflaNumRxQueues, 1)
	m.attrU8(iflaCarrier, 1)
	m.attrString(iflaQdisc, "noqueue")
	m.attr(iflaAddress, ifc.HWAddr)
	m.attr(iflaBroadcast, ifc.Broadcast)
	return m.done()
}

// addrMessages are RTM_NEWADDR for ifc's addresses of family (all for
// AF_UNSPEC).
func addrMessages(ifc *netstack.Interface, family int, seq, pid uint32) [][]byte {
	var out [][]byte
	for _, a := range ifc.Addrs {
		fam := socket.AF_INET6
		if a.Prefix.Addr().Is4() {
			fam = socket.AF_INET
		}
		if family != socket.AF_UNSPEC && family != fam {
			continue
		}
		m := newMessage(rtmNewAddr, nlmFMulti, seq, pid)
		hdr := [sizeofIfaddrmsg]byte{byte(fam), byte(a.Prefix.Bits()), byte(a.Flags), a.Scope}
		binary.LittleEndian.PutUint32(hdr[4:], uint32(ifc.Index))
		m.put(hdr[:])
		addr := a.Prefix.Addr().AsSlice()
		m.attr(ifaAddress, addr)
		if fam == socket.AF_INET {
			m.attr(ifaLocal, addr)
			m.attrString(ifaLabel, ifc.Name)
		}
		// ifa_cacheinfo: permanent addresses live forever.
		ci := make([]byte, 16)
		binary.LittleEndian.PutUint32(ci[0:], ^uint32(0))
		binary.LittleEndian.PutUint32(ci[4:], ^uint32(0))
		m.attr(ifaCacheInfo, ci)
		m.attrU32(ifaFlags, a.Flags)
		out = append(out, m.done())
	}
	return out
}

// routeMessage is RTM_NEWROUTE for r.
func routeMessage(r *netstack.Route, seq, pid uint32) []byte {
	fam := socket.AF_INET6
	if r.Dst.Addr().Is4() {
		fam = socket.AF_INET
	}
	m := newMessage(rtmNewRoute, nlmFMulti, seq, pid)
	hdr := [sizeofRtmsg]byte{byte(fam), byte(r.Dst.Bits()), 0, 0, r.Table, r.Protocol, r.Scope, r.Type}
	m.put(hdr[:])
	m.attrU32(rtaTable, uint32(r.Table))
	// As Linux, a default route has no destination attribute.
	if r.Dst.Bits() != 0 {
		m.attr(rtaDst, r.Dst.Addr().AsSlice())
	}
	if r.Gateway.IsValid() {
		m.attr(rtaGateway, r.Gateway.AsSlice())
	}
	if r.Priority != 0 {
		m.attrU32(rtaPriority, r.Priority)
	}
	if r.PrefSrc.IsValid() {
		m.attr(rtaPrefSrc, r.PrefSrc.AsSlice())
	}
	m.attrU32(rtaOIF, uint32(r.OIF))
	return m.done()
}

// handle answers one rtnetlink request from the sandbox's tables.
// admin says the caller has CAP_NET_ADMIN.
func handle(s *netstack.Stack, req request, admin, capAck bool, r *reply) {
	h := req.h
	if h.flags&nlmFRequest == 0 || h.typ < nlmsgMinType {
		// Not a request: nothing to answer but an asked-for ack.
		if h.flags&nlmFAck != 0 {
			r.ack(req, 0, capAck)
		}
		return
	}
	dump := h.flags&nlmFDump == nlmFDump
	var err linux.Errno
	switch h.typ {
	case rtmGetLink:
		if dump {
			var msgs [][]byte
			for i := range s.Interfaces() {
				msgs = append(msgs, linkMessage(&s.Interfaces()[i], nlmFMulti, h.seq, req.portID))
			}
			r.dump(req, msgs)
			return
		}
		ifc := findLink(s, req.payload)
		if ifc == nil {
			err = linux.ENODEV
			break
		}
		r.dgrams = append(r.dgrams, linkMessage(ifc, 0, h.seq, req.portID))
	case rtmGetAddr:
		if !dump {
			err = linux.EOPNOTSUPP
			break
		}
		fam := reqFamily(req.payload)
		var msgs [][]byte
		for i := range s.Interfaces() {
			msgs = append(msgs, addrMessages(&s.Interfaces()[i], fam, h.seq, req.portID)...)
		}
		r.dump(req, msgs)
		return
	case rtmGetRoute:
		if !dump {
			err = linux.EOPNOTSUPP
			break
		}
		fam := reqFamily(req.payload)
		var msgs [][]byte
		for i, rt := range s.Routes() {
			rfam := socket.AF_INET6
			if rt.Dst.Addr().Is4() {
				rfam = socket.AF_INET
			}
			if fam == socket.AF_UNSPEC || fam == rfam {
				msgs = append(msgs, routeMessage(&s.Routes()[i], h.seq, req.portID))
			}
		}
		r.dump(req, msgs)
		return
	default:
		if h.typ%4 == 2 && h.typ >= rtmGetLink {
			// Another RTM_GET* that the sandbox has no table for.
			err = linux.EOPNOTSUPP
		} else if !admin {
			// Changes need CAP_NET_ADMIN.
			err = linux.EPERM
		} else {
			// The interface table is fixed.
			err = linux.EOPNOTSUPP
		}
	}
	if err != 0 || h.flags&nlmFAck != 0 {
		r.ack(req, err, capAck)
	}
}

// findLink finds the interface an RTM_GETLINK names, by index or by
// IFLA_IFNAME.
func findLink(s *netstack.Stack, p []byte) *netstack.Interface {
	if len(p) < sizeofIfinfomsg {
		return nil
	}
	idx := int32(binary.LittleEndian.Uint32(p[4:]))
	var name []byte
	attrs(p[sizeofIfinfomsg:], func(typ uint16, v []byte) {
		if typ == iflaIfname {
			name = bytes.TrimRight(v, "\x00")
		}
	})
	for i := range s.Interfaces() {
		ifc := &s.Interfaces()[i]
		if idx > 0 && ifc.Index == idx || idx <= 0 && name != nil && ifc.Name == string(name) {
			return ifc
		}
	}
	return nil
}
