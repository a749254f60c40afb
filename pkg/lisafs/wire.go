package lisafs

import (
	"encoding/binary"
	"math"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// HeaderSize is the length of the header that starts every message.
const HeaderSize = 16

// MaxMessageSize bounds a whole message, header included. It is well below
// the default SO_SNDBUF (about 208 KiB), so a SEQPACKET send of a maximal
// message never fails with EMSGSIZE.
const MaxMessageSize = 128 << 10

// MaxBodySize is the largest body that fits in a message.
const MaxBodySize = MaxMessageSize - HeaderSize

// MaxFDsPerMessage bounds the descriptors one reply donates; the receive
// control buffers are sized for it.
const MaxFDsPerMessage = 4

// Limits on what one request may name; the server checks them.
const (
	// NameMax is NAME_MAX: the longest single path component.
	NameMax = 255
	// PathMax bounds a symlink target, as PATH_MAX does (NUL included).
	PathMax = 4096
	// MaxWalkComponents bounds one Walk so its reply fits in a message.
	MaxWalkComponents = 512
	// MaxCloseBatch bounds the handles one Close or Fsync names.
	MaxCloseBatch = 4096
)

// Header is the fixed start of every message.
type Header struct {
	Size  uint32
	Type  MsgType
	Errno uint16
	Tag   uint64
}

func (h *Header) put(b []byte) {
	le.PutUint32(b[0:], h.Size)
	le.PutUint16(b[4:], uint16(h.Type))
	le.PutUint16(b[6:], h.Errno)
	le.PutUint64(b[8:], h.Tag)
}

func (h *Header) get(b []byte) {
	h.Size = le.Uint32(b[0:])
	h.Type = MsgType(le.Uint16(b[4:]))
	h.Errno = le.Uint16(b[6:])
	h.Tag = le.Uint64(b[8:])
}

var le = binary.LittleEndian

// encoder appends fields to a message. The first HeaderSize bytes of buf
// are reserved for the header, written last when the size is known.
type encoder struct {
	buf []byte
}

func newEncoder(buf []byte) encoder {
	if cap(buf) < HeaderSize {
		buf = make([]byte, HeaderSize, 256)
	}
	return encoder{buf: buf[:HeaderSize]}
}

func (e *encoder) u8(v uint8)   { e.buf = append(e.buf, v) }
func (e *encoder) u16(v uint16) { e.buf = le.AppendUint16(e.buf, v) }
func (e *encoder) u32(v uint32) { e.buf = le.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = le.AppendUint64(e.buf, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }

// str writes a u16 length and the bytes. Callers keep strings below
// 64 KiB (the limits above); a longer one is cut, which the receiver sees
// as a different string rather than a corrupt stream.
func (e *encoder) str(s string) {
	if len(s) > math.MaxUint16 {
		s = s[:math.MaxUint16]
	}
	e.u16(uint16(len(s)))
	e.buf = append(e.buf, s...)
}

// finish writes the header and returns the whole message.
func (e *encoder) finish(t MsgType, errno uint16, tag uint64) []byte {
	h := Header{Size: uint32(len(e.buf)), Type: t, Errno: errno, Tag: tag}
	h.put(e.buf)
	return e.buf
}

// decoder reads fields from a body. The first out-of-bounds read marks it
// failed and every later read returns zero, so a message decoder checks
// ok() once at the end instead of after every field.
type decoder struct {
	buf    []byte
	failed bool
}

func (d *decoder) take(n int) []byte {
	if d.failed || len(d.buf) < n {
		d.failed = true
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return le.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return le.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return le.Uint64(b)
	}
	return 0
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

func (d *decoder) str() string {
	n := int(d.u16())
	return string(d.take(n))
}

// count reads a list length and checks that at least min bytes per element
// remain, so a hostile count cannot make the receiver allocate a huge
// slice before the bounds checks catch up.
func (d *decoder) count(minElem int) int {
	n := int(d.u16())
	if d.failed || n*minElem > len(d.buf) {
		d.failed = true
		return 0
	}
	return n
}

// done reports whether the whole body decoded with nothing left over.
func (d *decoder) done() error {
	if d.failed || len(d.buf) != 0 {
		return linux.EINVAL
	}
	return nil
}
