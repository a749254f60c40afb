package unix

import (
	"encoding/binary"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// sunPathLen is sizeof(sockaddr_un.sun_path).
const sunPathLen = 108

// address is a decoded sockaddr_un.
type address struct {
	// unspec is an AF_UNSPEC address, which dissolves a datagram
	// association.
	unspec bool
	// empty is a bare family, which asks bind for an automatic name.
	empty bool
	// abstract names live in the Sentry-wide table; others are paths.
	abstract bool
	name     string
}

// parseAddr decodes a sockaddr_un of the length the application gave.
// As on Linux, a pathname ends at its first NUL or at addrlen, and an
// abstract name is every byte after the leading NUL up to addrlen.
func parseAddr(b []byte) (address, error) {
	if len(b) < 2 || len(b) > 2+sunPathLen {
		return address{}, linux.EINVAL
	}
	switch binary.LittleEndian.Uint16(b) {
	case socket.AF_UNIX:
	case socket.AF_UNSPEC:
		return address{unspec: true}, nil
	default:
		return address{}, linux.EINVAL
	}
	path := b[2:]
	if len(path) == 0 {
		return address{empty: true}, nil
	}
	if path[0] == 0 {
		return address{abstract: true, name: string(path[1:])}, nil
	}
	for i, c := range path {
		if c == 0 {
			path = path[:i]
			break
		}
	}
	return address{name: string(path)}, nil
}

// sockaddr encodes a as the sockaddr_un getsockname and recvfrom
// return: a pathname with its NUL, an abstract name at its exact length.
func (a address) sockaddr() []byte {
	b := make([]byte, 2, 2+1+len(a.name))
	binary.LittleEndian.PutUint16(b, socket.AF_UNIX)
	if a.abstract {
		b = append(b, 0)
		return append(b, a.name...)
	}
	b = append(b, a.name...)
	return append(b, 0)
}

// autobindName returns the n-th automatic abstract name: five hex
// digits, as Linux assigns.
func autobindName(n uint32) string { return fmt.Sprintf("%05x", n&0xfffff) }
