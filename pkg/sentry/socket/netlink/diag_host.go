package netlink

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// InetDiagForwarder passes inet sock_diag requests to the host's
// NETLINK_SOCK_DIAG, for --network=host, where the sandbox's TCP and
// UDP sockets are host sockets (pkg/sentry/socket/hostinet implements
// it).
type InetDiagForwarder interface {
	// ForwardInetDiag sends msg, one SOCK_DIAG_BY_FAMILY request for
	// AF_INET or AF_INET6 (its netlink header included, NLM_F_ACK
	// clear), and returns the host's answer as the datagrams it came
	// in: a dump's parts through NLMSG_DONE, or a lookup's one message.
	// A request the host refuses is its errno.
	ForwardInetDiag(msg []byte) ([][]byte, error)
}

// forwardDiag answers an inet request from the host. The answer's
// messages are addressed to the sandbox socket's port ID instead of
// the host socket's.
func forwardDiag(fw InetDiagForwarder, req request, r *reply) linux.Errno {
	h := req.h
	msg := make([]byte, sizeofNlmsghdr, sizeofNlmsghdr+len(req.payload))
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(sizeofNlmsghdr+len(req.payload)))
	le.PutUint16(msg[4:], h.typ)
	le.PutUint16(msg[6:], h.flags&^nlmFAck)
	le.PutUint32(msg[8:], h.seq)
	msg = append(msg, req.payload...)
	dgrams, err := fw.ForwardInetDiag(msg)
	if err != nil {
		if errno, ok := err.(linux.Errno); ok {
			return errno
		}
		return linux.EIO
	}
	for _, d := range dgrams {
		for b := d; len(b) >= sizeofNlmsghdr; {
			l := int(le.Uint32(b))
			if l < sizeofNlmsghdr || l > len(b) {
				break
			}
			le.PutUint32(b[12:], req.portID)
			b = b[min(align4(l), len(b)):]
		}
		r.dgrams = append(r.dgrams, d)
	}
	return 0
}
