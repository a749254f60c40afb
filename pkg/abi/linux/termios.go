package linux

// NCCS is the number of control characters in the kernel's struct termios.
// glibc's struct termios has 32 and extra speed fields; the ioctls use the
// kernel's.
const NCCS = 19

// Indexes into Termios.ControlCharacters.
const (
	VINTR    = 0
	VQUIT    = 1
	VERASE   = 2
	VKILL    = 3
	VEOF     = 4
	VTIME    = 5
	VMIN     = 6
	VSWTC    = 7
	VSTART   = 8
	VSTOP    = 9
	VSUSP    = 10
	VEOL     = 11
	VREPRINT = 12
	VDISCARD = 13
	VWERASE  = 14
	VLNEXT   = 15
	VEOL2    = 16
)

// Input mode flags (c_iflag).
const (
	IGNBRK  = 0x001
	BRKINT  = 0x002
	IGNPAR  = 0x004
	PARMRK  = 0x008
	INPCK   = 0x010
	ISTRIP  = 0x020
	INLCR   = 0x040
	IGNCR   = 0x080
	ICRNL   = 0x100
	IUCLC   = 0x200
	IXON    = 0x400
	IXANY   = 0x800
	IXOFF   = 0x1000
	IMAXBEL = 0x2000
	IUTF8   = 0x4000
)

// Output mode flags (c_oflag).
const (
	OPOST  = 0x01
	OLCUC  = 0x02
	ONLCR  = 0x04
	OCRNL  = 0x08
	ONOCR  = 0x10
	ONLRET = 0x20
	OFILL  = 0x40
	OFDEL  = 0x80
	NLDLY  = 0x00100
	NL0    = 0x00000
	NL1    = 0x00100
	CRDLY  = 0x00600
	CR0    = 0x00000
	CR1    = 0x00200
	CR2    = 0x00400
	CR3    = 0x00600
	TABDLY = 0x01800
	TAB0   = 0x00000
	TAB1   = 0x00800
	TAB2   = 0x01000
	TAB3   = 0x01800
	XTABS  = 0x01800
	BSDLY  = 0x02000
	BS0    = 0x00000
	BS1    = 0x02000
	VTDLY  = 0x04000
	VT0    = 0x00000
	VT1    = 0x04000
	FFDLY  = 0x08000
	FF0    = 0x00000
	FF1    = 0x08000
)

// Control mode flags (c_cflag) and baud rates.
const (
	CBAUD    = 0x0000100f
	CSIZE    = 0x00000030
	CS5      = 0x00000000
	CS6      = 0x00000010
	CS7      = 0x00000020
	CS8      = 0x00000030
	CSTOPB   = 0x00000040
	CREAD    = 0x00000080
	PARENB   = 0x00000100
	PARODD   = 0x00000200
	HUPCL    = 0x00000400
	CLOCAL   = 0x00000800
	CBAUDEX  = 0x00001000
	BOTHER   = 0x00001000
	CIBAUD   = 0x100f0000
	ADDRB    = 0x20000000
	CMSPAR   = 0x40000000
	CRTSCTS  = 0x80000000
	IBSHIFT  = 16
	B0       = 0x00000000
	B50      = 0x00000001
	B75      = 0x00000002
	B110     = 0x00000003
	B134     = 0x00000004
	B150     = 0x00000005
	B200     = 0x00000006
	B300     = 0x00000007
	B600     = 0x00000008
	B1200    = 0x00000009
	B1800    = 0x0000000a
	B2400    = 0x0000000b
	B4800    = 0x0000000c
	B9600    = 0x0000000d
	B19200   = 0x0000000e
	B38400   = 0x0000000f
	B57600   = 0x00001001
	B115200  = 0x00001002
	B230400  = 0x00001003
	B460800  = 0x00001004
	B500000  = 0x00001005
	B576000  = 0x00001006
	B921600  = 0x00001007
	B1000000 = 0x00001008
	B1152000 = 0x00001009
	B1500000 = 0x0000100a
	B2000000 = 0x0000100b
	B2500000 = 0x0000100c
	B3000000 = 0x0000100d
	B3500000 = 0x0000100e
	B4000000 = 0x0000100f
)

// Local mode flags (c_lflag).
const (
	ISIG    = 0x00001
	ICANON  = 0x00002
	XCASE   = 0x00004
	ECHO    = 0x00008
	ECHOE   = 0x00010
	ECHOK   = 0x00020
	ECHONL  = 0x00040
	NOFLSH  = 0x00080
	TOSTOP  = 0x00100
	ECHOCTL = 0x00200
	ECHOPRT = 0x00400
	ECHOKE  = 0x00800
	FLUSHO  = 0x01000
	PENDIN  = 0x04000
	IEXTEN  = 0x08000
	EXTPROC = 0x10000
)

// Arguments of tcflow (TCXONC), tcflush (TCFLSH) and tcsetattr.
const (
	TCOOFF    = 0
	TCOON     = 1
	TCIOFF    = 2
	TCION     = 3
	TCIFLUSH  = 0
	TCOFLUSH  = 1
	TCIOFLUSH = 2
	TCSANOW   = 0
	TCSADRAIN = 1
	TCSAFLUSH = 2
)

// Line disciplines (TIOCSETD).
const (
	N_TTY = 0
)

// Termios is the kernel's struct termios, the argument of TCGETS/TCSETS*.
type Termios struct {
	InputFlags        uint32
	OutputFlags       uint32
	ControlFlags      uint32
	LocalFlags        uint32
	LineDiscipline    uint8
	ControlCharacters [NCCS]uint8
}

// SizeofTermios is sizeof(struct termios) as the kernel defines it.
const SizeofTermios = 36

// SizeBytes implements marshal.Marshallable.
func (*Termios) SizeBytes() int { return SizeofTermios }

// MarshalBytes implements marshal.Marshallable.
func (t *Termios) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofTermios-1]
	le.PutUint32(dst[0:], t.InputFlags)
	le.PutUint32(dst[4:], t.OutputFlags)
	le.PutUint32(dst[8:], t.ControlFlags)
	le.PutUint32(dst[12:], t.LocalFlags)
	dst[16] = t.LineDiscipline
	copy(dst[17:36], t.ControlCharacters[:])
	return dst[SizeofTermios:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (t *Termios) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofTermios-1]
	t.InputFlags = le.Uint32(src[0:])
	t.OutputFlags = le.Uint32(src[4:])
	t.ControlFlags = le.Uint32(src[8:])
	t.LocalFlags = le.Uint32(src[12:])
	t.LineDiscipline = src[16]
	copy(t.ControlCharacters[:], src[17:36])
	return src[SizeofTermios:]
}

// Termios2 is struct termios2 (TCGETS2/TCSETS2): Termios plus explicit
// input and output speeds, used with BOTHER for arbitrary baud rates.
type Termios2 struct {
	Termios
	InputSpeed  uint32
	OutputSpeed uint32
}

// SizeofTermios2 is sizeof(struct termios2); Termios is padded to 4-byte
// alignment before the speeds.
const SizeofTermios2 = 44

// SizeBytes implements marshal.Marshallable.
func (*Termios2) SizeBytes() int { return SizeofTermios2 }

// MarshalBytes implements marshal.Marshallable.
func (t *Termios2) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofTermios2-1]
	t.Termios.MarshalBytes(dst)
	le.PutUint32(dst[36:], t.InputSpeed)
	le.PutUint32(dst[40:], t.OutputSpeed)
	return dst[SizeofTermios2:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (t *Termios2) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofTermios2-1]
	t.Termios.UnmarshalBytes(src)
	t.InputSpeed = le.Uint32(src[36:])
	t.OutputSpeed = le.Uint32(src[40:])
	return src[SizeofTermios2:]
}

// Control-character defaults of a fresh tty (the kernel's INIT_C_CC);
// 0 disables a function.
var DefaultControlCharacters = [NCCS]uint8{
	VINTR: 0x03, VQUIT: 0x1c, VERASE: 0x7f, VKILL: 0x15, VEOF: 0x04, VTIME: 0,
	VMIN: 1, VSWTC: 0, VSTART: 0x11, VSTOP: 0x13, VSUSP: 0x1a, VEOL: 0,
	VREPRINT: 0x12, VDISCARD: 0x0f, VWERASE: 0x17, VLNEXT: 0x16, VEOL2: 0,
}

// DefaultTermios is the termios a new tty starts with, the kernel's
// tty_std_termios.
var DefaultTermios = Termios{
	InputFlags:        ICRNL | IXON,
	OutputFlags:       OPOST | ONLCR,
	ControlFlags:      B38400 | CS8 | CREAD | HUPCL,
	LocalFlags:        ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
	ControlCharacters: DefaultControlCharacters,
}
