package unix

import (
	"bytes"
	"fmt"
	"sort"
	"sync"

	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// The registry lists every open AF_UNIX socket for the tools that
// enumerate them: NETLINK_SOCK_DIAG's unix_diag (ss -x) and
// /proc/net/unix.

var (
	// regMu guards sockets. It is taken after mu when both are held
	// (newEndpoint runs under mu in Connect).
	regMu   sync.Mutex
	sockets = map[*Endpoint]struct{}{}
)

func register(e *Endpoint) {
	e.ino = uint32(vfs.NextSocketIno())
	regMu.Lock()
	sockets[e] = struct{}{}
	regMu.Unlock()
}

func unregister(e *Endpoint) {
	regMu.Lock()
	delete(sockets, e)
	regMu.Unlock()
}

// Socket states as Linux keeps them in sk_state for AF_UNIX sockets.
const (
	StateEstablished = 1
	StateClose       = 7
	StateListen      = 10
)

// Shutdown bits of SocketInfo.Shutdown (sk_shutdown).
const (
	ShutdownRcv  = 1
	ShutdownSend = 2
)

// SocketInfo describes one AF_UNIX socket.
type SocketInfo struct {
	// Ino is the socket's inode number; Type its SOCK_* type; State
	// one of the State constants.
	Ino   uint32
	Type  int
	State uint8
	// Embryo marks a connection its listener has not handed to
	// accept(2) yet: it has no file, hence no inode on Linux.
	Embryo bool
	// Name is the bound name as sun_path bytes, the way unix_diag
	// reports it: an abstract name with its leading NUL, a pathname
	// with its terminating NUL; nil when unbound. A connection
	// accepted from a listener has the listener's name.
	Name []byte
	// Peer is the peer's inode (0 once the peer closed, and while it
	// waits in a listener's queue); HasPeer says
	// whether the socket has or had one.
	Peer    uint32
	HasPeer bool
	// Pending lists, for a listener, the inodes of the clients whose
	// connections wait for accept (UNIX_DIAG_ICONS).
	Pending []uint32
	// RecvQ and SendQ are UNIX_DIAG_RQLEN: for a listener, its pending
	// connections and backlog; otherwise the bytes queued to read (a
	// datagram socket: the next datagram's) and the bytes it sent that
	// its connected peer has not read yet.
	RecvQ, SendQ uint32
	// Shutdown is a mask of the Shutdown bits.
	Shutdown uint8
	// RcvBuf and SndBuf are the buffer limits; RmemAlloc the bytes
	// queued to read.
	RcvBuf, SndBuf, RmemAlloc uint32
}

// Sockets returns every open AF_UNIX socket of the sandbox, by inode.
func Sockets() []SocketInfo {
	mu.Lock()
	defer mu.Unlock()
	regMu.Lock()
	all := make([]*Endpoint, 0, len(sockets))
	for e := range sockets {
		all = append(all, e)
	}
	regMu.Unlock()
	embryos := map[*Endpoint]bool{}
	for _, e := range all {
		for _, p := range e.pending {
			embryos[p] = true
		}
	}
	infos := make([]SocketInfo, 0, len(all))
	for _, e := range all {
		infos = append(infos, e.infoLocked(embryos))
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Ino < infos[j].Ino })
	return infos
}

// infoLocked describes e; mu is held. embryos are the connections
// waiting in listeners' queues.
func (e *Endpoint) infoLocked(embryos map[*Endpoint]bool) SocketInfo {
	embryo := embryos[e]
	in := SocketInfo{
		Ino:       e.ino,
		Type:      e.stype,
		State:     StateClose,
		Embryo:    embryo,
		RcvBuf:    uint32(e.rq.limit),
		SndBuf:    uint32(e.sndbuf),
		RmemAlloc: uint32(e.rq.bytes),
	}
	if e.addr != nil {
		in.Name = e.addr.sockaddr()[2:]
	}
	if e.rdShut {
		in.Shutdown |= ShutdownRcv
	}
	if e.wrShut {
		in.Shutdown |= ShutdownSend
	}
	switch {
	case e.state == listening:
		in.State = StateListen
		in.RecvQ, in.SendQ = uint32(len(e.pending)), uint32(e.backlog)
		for _, p := range e.pending {
			if p.peer != nil && !p.peer.closed {
				in.Pending = append(in.Pending, p.peer.ino)
			} else {
				in.Pending = append(in.Pending, 0)
			}
		}
		return in
	case e.state == connected, e.dgramEstablished:
		in.State = StateEstablished
	}
	if p := e.peer; p != nil {
		in.HasPeer = true
		// A closed peer has no inode any more, nor has an embryo yet.
		if !p.closed && !embryos[p] {
			in.Peer = p.ino
			if e.connOriented() {
				in.SendQ = uint32(p.rq.bytes)
			}
		}
	}
	if e.connOriented() {
		in.RecvQ = uint32(e.rq.bytes)
	} else if !e.rq.empty() {
		in.RecvQ = uint32(len(e.rq.msgs[0].data))
	}
	return in
}

// procState is the socket state /proc/net/unix shows (SS_UNCONNECTED 1,
// SS_CONNECTING 2, SS_CONNECTED 3): an embryo, having no socket yet,
// is shown connecting.
func (in *SocketInfo) procState() int {
	switch {
	case in.Embryo:
		return 2
	case in.State == StateEstablished:
		return 3
	}
	return 1
}

// WriteProcNet writes /proc/net/unix: the header and a line per socket,
// in Linux's format with kernel addresses hidden (kptr_restrict).
func WriteProcNet(b *bytes.Buffer) {
	b.WriteString("Num       RefCount Protocol Flags    Type St Inode Path\n")
	for _, in := range Sockets() {
		ref, flags, ino := 2, 0, in.Ino
		if in.State == StateEstablished {
			ref = 3 // the peer holds one
		}
		if in.State == StateListen {
			flags = 1 << 16 // __SO_ACCEPTCON
		}
		if in.Embryo {
			ino = 0
		}
		fmt.Fprintf(b, "%016x: %08X %08X %08X %04X %02X %5d", 0, ref, 0, flags, in.Type, in.procState(), ino)
		if len(in.Name) > 0 {
			b.WriteByte(' ')
			name := in.Name
			if name[0] == 0 {
				b.WriteByte('@')
				name = name[1:]
			} else {
				name = name[:len(name)-1]
			}
			for _, c := range name {
				if c == 0 {
					c = '@'
				}
				b.WriteByte(c)
			}
		}
		b.WriteByte('\n')
	}
}
