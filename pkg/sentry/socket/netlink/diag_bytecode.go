package netlink

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// inet_diag filter programs (INET_DIAG_REQ_BYTECODE): what ss compiles
// its expressions such as `sport = :80` or `dst 127.0.0.1` into. A
// program is a sequence of 4-byte ops {code, yes, no}, some followed by
// an operand; after each test the program moves on by yes bytes when it
// holds and by no bytes when not, and the socket matches when the
// program ends exactly at its end.

const (
	bcNop     = 0
	bcJmp     = 1
	bcSGe     = 2
	bcSLe     = 3
	bcDGe     = 4
	bcDLe     = 5
	bcAuto    = 6
	bcSCond   = 7
	bcDCond   = 8
	bcDevCond = 9
	bcMarkCnd = 10
	bcSEq     = 11
	bcDEq     = 12

	sizeofBcOp = 4
	// sizeofHostcond is struct inet_diag_hostcond without its address.
	sizeofHostcond = 8
)

// bcOpLen is the length of the op at b[0] with its operand; 0 for an
// unknown or truncated op.
func bcOpLen(b []byte) int {
	if len(b) < sizeofBcOp {
		return 0
	}
	n := 0
	switch b[0] {
	case bcNop, bcJmp, bcAuto:
		n = sizeofBcOp
	case bcSGe, bcSLe, bcDGe, bcDLe, bcSEq, bcDEq, bcDevCond:
		n = 2 * sizeofBcOp
	case bcMarkCnd:
		n = 3 * sizeofBcOp
	case bcSCond, bcDCond:
		if len(b) < sizeofBcOp+sizeofHostcond {
			return 0
		}
		alen := 0
		switch int(b[sizeofBcOp]) {
		case socket.AF_INET:
			alen = 4
		case socket.AF_INET6:
			alen = 16
		case socket.AF_UNSPEC:
		default:
			return 0
		}
		if int(b[sizeofBcOp+1]) > 8*alen {
			return 0
		}
		n = sizeofBcOp + sizeofHostcond + alen
	default:
		return 0
	}
	if n > len(b) {
		return 0
	}
	return n
}

// auditBytecode checks a program before it runs, as Linux's
// inet_diag_bc_audit does: following the "yes" jumps from the start,
// every op is known with its whole operand, jumps are 4-byte multiples
// past the operand, a "no" jump lands at an op the "yes" chain reaches
// or at most one op past the end (which rejects), and the chain ends
// exactly at the end.
func auditBytecode(b []byte) bool {
	off := 0
	for off < len(b) {
		n := bcOpLen(b[off:])
		if n == 0 {
			return false
		}
		rest := len(b) - off
		yes, no := int(b[off+1]), int(binary.LittleEndian.Uint16(b[off+2:]))
		if b[off] != bcNop {
			if no < n || no > rest+sizeofBcOp || no%sizeofBcOp != 0 {
				return false
			}
			if no < rest && !onYesChain(b, off+no) {
				return false
			}
		}
		if yes < n || yes > rest+sizeofBcOp || yes%sizeofBcOp != 0 {
			return false
		}
		off += yes
	}
	return off == len(b)
}

// onYesChain says whether following "yes" jumps from the start of b
// reaches offset target.
func onYesChain(b []byte, target int) bool {
	for off := 0; off <= target; {
		if off == target {
			return true
		}
		if off+sizeofBcOp > len(b) {
			return false
		}
		yes := int(b[off+1])
		if yes < sizeofBcOp || yes%sizeofBcOp != 0 {
			return false
		}
		off += yes
	}
	return false
}

// runBytecode runs an audited program on one socket.
func runBytecode(b []byte, e *diagEntry) bool {
	off := 0
	for off < len(b) {
		op := b[off:]
		yes := true
		arg16 := func() uint16 { return binary.LittleEndian.Uint16(op[sizeofBcOp+2:]) }
		switch op[0] {
		case bcNop:
		case bcJmp:
			yes = false
		case bcSGe:
			yes = e.sport >= arg16()
		case bcSLe:
			yes = e.sport <= arg16()
		case bcDGe:
			yes = e.dport >= arg16()
		case bcDLe:
			yes = e.dport <= arg16()
		case bcSEq:
			yes = e.sport == arg16()
		case bcDEq:
			yes = e.dport == arg16()
		case bcAuto:
			// Whether the port was picked by the kernel is not
			// recorded; every bound port counts as chosen.
			yes = false
		case bcSCond, bcDCond:
			yes = hostcondMatch(op[sizeofBcOp:], e, op[0] == bcSCond)
		case bcDevCond:
			// No socket is bound to a device.
			yes = binary.LittleEndian.Uint32(op[sizeofBcOp:]) == 0
		case bcMarkCnd:
			// Sockets carry no mark: 0 & mask must equal the mark.
			yes = binary.LittleEndian.Uint32(op[sizeofBcOp:]) == 0
		}
		if yes {
			off += int(op[1])
		} else {
			off += int(binary.LittleEndian.Uint16(op[2:]))
		}
	}
	return off == len(b)
}

// hostcondMatch evaluates a struct inet_diag_hostcond: an optional port
// (-1: any), then an address prefix of a family; an IPv4 condition also
// matches an IPv6 socket's v4-mapped address.
func hostcondMatch(c []byte, e *diagEntry, src bool) bool {
	family, plen := int(c[0]), int(c[1])
	port := int32(binary.LittleEndian.Uint32(c[4:]))
	addr, eport := e.dst[:], e.dport
	if src {
		addr, eport = e.src[:], e.sport
	}
	if port != -1 && uint16(port) != eport {
		return false
	}
	want := c[sizeofHostcond:]
	if family != socket.AF_UNSPEC && family != e.family {
		mapped := e.family == socket.AF_INET6 && family == socket.AF_INET &&
			string(addr[:12]) == "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff"
		return mapped && prefixMatch(addr[12:], want, plen)
	}
	return plen == 0 || prefixMatch(addr, want, plen)
}

// prefixMatch says whether the first bits bits of a and b agree.
func prefixMatch(a, b []byte, bits int) bool {
	for i := 0; bits > 0; i++ {
		if i >= len(a) || i >= len(b) {
			return false
		}
		mask := byte(0xff)
		if bits < 8 {
			mask = 0xff << (8 - bits)
		}
		if (a[i]^b[i])&mask != 0 {
			return false
		}
		bits -= 8
	}
	return true
}
