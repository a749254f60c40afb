package netlink

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket/unix"
)

// unix_diag (sock_diag(7)): SOCK_DIAG_BY_FAMILY requests for AF_UNIX,
// answered from the AF_UNIX socket registry. A dump lists every socket
// whose state the request's mask selects; a lookup names one socket by
// inode (and cookie). Connections waiting in a listener's queue have no
// inode yet and are not listed, as on Linux.

const (
	sizeofUnixDiagReq = 24
	sizeofUnixDiagMsg = 16

	udiagShowName    = 0x01
	udiagShowVFS     = 0x02
	udiagShowPeer    = 0x04
	udiagShowIcons   = 0x08
	udiagShowRQLen   = 0x10
	udiagShowMeminfo = 0x20

	unixDiagName     = 0
	unixDiagPeer     = 2
	unixDiagIcons    = 3
	unixDiagRQLen    = 4
	unixDiagMeminfo  = 5
	unixDiagShutdown = 6

	// skMeminfoVars is SK_MEMINFO_VARS, the u32s of UNIX_DIAG_MEMINFO.
	skMeminfoVars = 9
)

// unixCookie is the socket cookie unix_diag reports: the inode, which
// no two open sockets share.
func unixCookie(in *unix.SocketInfo) (uint32, uint32) { return in.Ino, 0 }

func unixDiagMsg(in *unix.SocketInfo, show uint32, seq, pid uint32, flags uint16) []byte {
	m := newMessage(sockDiagByFamily, flags, seq, pid)
	var b [sizeofUnixDiagMsg]byte
	b[0] = 1 // AF_UNIX
	b[1] = uint8(in.Type)
	b[2] = in.State
	binary.LittleEndian.PutUint32(b[4:], in.Ino)
	c0, c1 := unixCookie(in)
	binary.LittleEndian.PutUint32(b[8:], c0)
	binary.LittleEndian.PutUint32(b[12:], c1)
	m.put(b[:])
	if show&udiagShowName != 0 && in.Name != nil {
		m.attr(unixDiagName, in.Name)
	}
	if show&udiagShowPeer != 0 && in.HasPeer {
		m.attrU32(unixDiagPeer, in.Peer)
	}
	if show&udiagShowIcons != 0 && in.State == unix.StateListen {
		icons := make([]byte, 4*len(in.Pending))
		for i, ino := range in.Pending {
			binary.LittleEndian.PutUint32(icons[4*i:], ino)
		}
		m.attr(unixDiagIcons, icons)
	}
	if show&udiagShowRQLen != 0 {
		var q [8]byte
		binary.LittleEndian.PutUint32(q[:], in.RecvQ)
		binary.LittleEndian.PutUint32(q[4:], in.SendQ)
		m.attr(unixDiagRQLen, q[:])
	}
	if show&udiagShowMeminfo != 0 {
		// rmem_alloc, rcvbuf, wmem_alloc, sndbuf; the rest (forward
		// allocation, queued, option memory, backlog, drops) are 0.
		var mi [4 * skMeminfoVars]byte
		binary.LittleEndian.PutUint32(mi[0:], in.RmemAlloc)
		binary.LittleEndian.PutUint32(mi[4:], in.RcvBuf)
		if in.State != unix.StateListen {
			binary.LittleEndian.PutUint32(mi[8:], in.SendQ)
		}
		binary.LittleEndian.PutUint32(mi[12:], in.SndBuf)
		m.attr(unixDiagMeminfo, mi[:])
	}
	m.attrU8(unixDiagShutdown, in.Shutdown)
	return m.done()
}

// unixDiag answers a SOCK_DIAG_BY_FAMILY request for AF_UNIX. UDIAG_SHOW_VFS
// and UDIAG_SHOW_UID are not answered: the registry keeps neither the
// socket file's inode nor the owner.
func unixDiag(req request, r *reply) linux.Errno {
	p := req.payload
	if len(p) < sizeofUnixDiagReq {
		return linux.EINVAL
	}
	states := binary.LittleEndian.Uint32(p[4:])
	ino := binary.LittleEndian.Uint32(p[8:])
	show := binary.LittleEndian.Uint32(p[12:])
	cookie := [2]uint32{binary.LittleEndian.Uint32(p[16:]), binary.LittleEndian.Uint32(p[20:])}
	h := req.h
	socks := unix.Sockets()
	if h.flags&nlmFDump == nlmFDump {
		var msgs [][]byte
		for i := range socks {
			in := &socks[i]
			if in.Embryo || states&(1<<uint(in.State)) == 0 {
				continue
			}
			msgs = append(msgs, unixDiagMsg(in, show, h.seq, req.portID, nlmFMulti))
		}
		r.dumpChunked(req, msgs)
		return 0
	}
	if ino == 0 {
		return linux.EINVAL
	}
	for i := range socks {
		in := &socks[i]
		if in.Embryo || in.Ino != ino {
			continue
		}
		c0, c1 := unixCookie(in)
		if cookie != [2]uint32{^uint32(0), ^uint32(0)} && cookie != [2]uint32{c0, c1} {
			return linux.ESTALE
		}
		r.dgrams = append(r.dgrams, unixDiagMsg(in, show, h.seq, req.portID, 0))
		return 0
	}
	return linux.ENOENT
}
