package linux

// ioctl request encoding (asm-generic/ioctl.h, used by both targets): from
// the low bit up, 8 bits of command number, 8 bits of type, 14 bits of
// argument size, 2 bits of direction.
const (
	IOC_NRBITS   = 8
	IOC_TYPEBITS = 8
	IOC_SIZEBITS = 14
	IOC_DIRBITS  = 2

	IOC_NRSHIFT   = 0
	IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS
	IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS
	IOC_DIRSHIFT  = IOC_SIZESHIFT + IOC_SIZEBITS

	IOC_NONE  = 0
	IOC_WRITE = 1
	IOC_READ  = 2
)

// IOC builds an ioctl request number, like the _IOC macro.
func IOC(dir, typ, nr, size uint32) uint32 {
	return dir<<IOC_DIRSHIFT | typ<<IOC_TYPESHIFT | nr<<IOC_NRSHIFT | size<<IOC_SIZESHIFT
}

// IOCSize extracts the argument size from a request number.
func IOCSize(req uint32) uint32 { return (req >> IOC_SIZESHIFT) & (1<<IOC_SIZEBITS - 1) }

// IOCDir extracts the direction bits from a request number.
func IOCDir(req uint32) uint32 { return req >> IOC_DIRSHIFT }

// IOCType extracts the type byte from a request number.
func IOCType(req uint32) uint32 { return (req >> IOC_TYPESHIFT) & 0xff }

// IOCNr extracts the command number from a request number.
func IOCNr(req uint32) uint32 { return req & 0xff }

// Terminal and generic file ioctls. amd64 and arm64 both take these from
// asm-generic/ioctls.h. The constants built with _IOR/_IOW are written out
// so that they stay usable in switch cases.
const (
	TCGETS       = 0x5401
	TCSETS       = 0x5402
	TCSETSW      = 0x5403
	TCSETSF      = 0x5404
	TCGETA       = 0x5405
	TCSETA       = 0x5406
	TCSETAW      = 0x5407
	TCSETAF      = 0x5408
	TCSBRK       = 0x5409
	TCXONC       = 0x540A
	TCFLSH       = 0x540B
	TIOCEXCL     = 0x540C
	TIOCNXCL     = 0x540D
	TIOCSCTTY    = 0x540E
	TIOCGPGRP    = 0x540F
	TIOCSPGRP    = 0x5410
	TIOCOUTQ     = 0x5411
	TIOCSTI      = 0x5412
	TIOCGWINSZ   = 0x5413
	TIOCSWINSZ   = 0x5414
	TIOCMGET     = 0x5415
	TIOCMBIS     = 0x5416
	TIOCMBIC     = 0x5417
	TIOCMSET     = 0x5418
	TIOCGSOFTCAR = 0x5419
	TIOCSSOFTCAR = 0x541A
	FIONREAD     = 0x541B
	TIOCINQ      = FIONREAD
	TIOCLINUX    = 0x541C
	TIOCCONS     = 0x541D
	TIOCGSERIAL  = 0x541E
	TIOCSSERIAL  = 0x541F
	TIOCPKT      = 0x5420
	FIONBIO      = 0x5421
	TIOCNOTTY    = 0x5422
	TIOCSETD     = 0x5423
	TIOCGETD     = 0x5424
	TCSBRKP      = 0x5425
	TIOCSBRK     = 0x5427
	TIOCCBRK     = 0x5428
	TIOCGSID     = 0x5429
	TCGETS2      = 0x802c542a // _IOR('T', 0x2A, struct termios2)
	TCSETS2      = 0x402c542b // _IOW('T', 0x2B, struct termios2)
	TCSETSW2     = 0x402c542c // _IOW('T', 0x2C, struct termios2)
	TCSETSF2     = 0x402c542d // _IOW('T', 0x2D, struct termios2)
	TIOCGPTN     = 0x80045430 // _IOR('T', 0x30, unsigned int)
	TIOCSPTLCK   = 0x40045431 // _IOW('T', 0x31, int)
	TIOCGDEV     = 0x80045432 // _IOR('T', 0x32, unsigned int)
	TIOCSIG      = 0x40045436 // _IOW('T', 0x36, int)
	TIOCVHANGUP  = 0x5437
	TIOCGPKT     = 0x80045438 // _IOR('T', 0x38, int)
	TIOCGPTLCK   = 0x80045439 // _IOR('T', 0x39, int)
	TIOCGEXCL    = 0x80045440 // _IOR('T', 0x40, int)
	TIOCGPTPEER  = 0x5441     // _IO('T', 0x41)
	FIONCLEX     = 0x5450
	FIOCLEX      = 0x5451
	FIOASYNC     = 0x5452
	FIOQSIZE     = 0x5460
)

// Socket-level ioctls that also apply to other files (F_SETOWN-like).
const (
	FIOSETOWN  = 0x8901
	SIOCSPGRP  = 0x8902
	FIOGETOWN  = 0x8903
	SIOCGPGRP  = 0x8904
	SIOCATMARK = 0x8905
	SIOCGSTAMP = 0x8906
)

// Packet-mode status bytes (TIOCPKT).
const (
	TIOCPKT_DATA       = 0
	TIOCPKT_FLUSHREAD  = 1
	TIOCPKT_FLUSHWRITE = 2
	TIOCPKT_STOP       = 4
	TIOCPKT_START      = 8
	TIOCPKT_NOSTOP     = 16
	TIOCPKT_DOSTOP     = 32
	TIOCPKT_IOCTL      = 64
)

// Winsize is struct winsize (TIOCGWINSZ/TIOCSWINSZ).
type Winsize struct {
	Row    uint16
	Col    uint16
	Xpixel uint16
	Ypixel uint16
}

// SizeBytes implements marshal.Marshallable.
func (*Winsize) SizeBytes() int { return 8 }

// MarshalBytes implements marshal.Marshallable.
func (w *Winsize) MarshalBytes(dst []byte) []byte {
	_ = dst[7]
	le.PutUint16(dst[0:], w.Row)
	le.PutUint16(dst[2:], w.Col)
	le.PutUint16(dst[4:], w.Xpixel)
	le.PutUint16(dst[6:], w.Ypixel)
	return dst[8:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (w *Winsize) UnmarshalBytes(src []byte) []byte {
	_ = src[7]
	w.Row = le.Uint16(src[0:])
	w.Col = le.Uint16(src[2:])
	w.Xpixel = le.Uint16(src[4:])
	w.Ypixel = le.Uint16(src[6:])
	return src[8:]
}
