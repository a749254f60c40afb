package netstack

import (
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// Addresses are netip values. An IPv4 address is always kept in its
// 4-byte form, also on AF_INET6 sockets (where the application sees it
// as ::ffff:a.b.c.d); the zero netip.Addr is never used for "any", which
// is 0.0.0.0 or :: (IsUnspecified).

// sockaddrKind says how parseSockaddr found the address.
type sockaddrKind int

const (
	kindAddr   sockaddrKind = iota
	kindUnspec              // AF_UNSPEC: connect's "disconnect"
)

// parseSockaddr decodes the sockaddr b given to a socket of family fam.
// A v4-mapped IPv6 address comes back as its IPv4 address with mapped
// set. Short addresses are EINVAL and other families EAFNOSUPPORT, as in
// inet_bind/inet_dgram_connect; AF_UNSPEC is reported as kindUnspec with
// the address decoded as fam's (Linux lets bind and sendto treat an
// AF_UNSPEC sockaddr_in as AF_INET).
func parseSockaddr(fam int, b []byte) (ap netip.AddrPort, mapped bool, kind sockaddrKind, err error) {
	if len(b) < 2 {
		return ap, false, kindAddr, linux.EINVAL
	}
	f := int(binary.LittleEndian.Uint16(b))
	if f == socket.AF_UNSPEC {
		kind = kindUnspec
	} else if f != fam {
		return ap, false, kindAddr, linux.EAFNOSUPPORT
	}
	port := binary.BigEndian.Uint16(b[2:])
	if fam == socket.AF_INET {
		if len(b) < sizeofSockaddrIn {
			if kind == kindUnspec {
				return ap, false, kind, nil
			}
			return ap, false, kindAddr, linux.EINVAL
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port), false, kind, nil
	}
	if len(b) < sin6LenRFC2133 {
		if kind == kindUnspec {
			return ap, false, kind, nil
		}
		return ap, false, kindAddr, linux.EINVAL
	}
	a := netip.AddrFrom16([16]byte(b[8:24]))
	if a.Is4In6() {
		return netip.AddrPortFrom(a.Unmap(), port), true, kind, nil
	}
	return netip.AddrPortFrom(a, port), false, kind, nil
}

// formatSockaddr encodes ap as a socket of family fam reports it.
func formatSockaddr(fam int, ap netip.AddrPort) []byte {
	a := ap.Addr()
	if fam == socket.AF_INET {
		b := make([]byte, sizeofSockaddrIn)
		binary.LittleEndian.PutUint16(b, socket.AF_INET)
		binary.BigEndian.PutUint16(b[2:], ap.Port())
		if a.Is4() {
			v := a.As4()
			copy(b[4:], v[:])
		}
		return b
	}
	b := make([]byte, sizeofSockaddrIn6)
	binary.LittleEndian.PutUint16(b, socket.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], ap.Port())
	if a.IsValid() {
		v := a.As16() // an IPv4 address becomes ::ffff:a.b.c.d
		copy(b[8:], v[:])
	}
	return b
}

// anyAddr is the unspecified address of family fam.
func anyAddr(fam int) netip.Addr {
	if fam == socket.AF_INET {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
