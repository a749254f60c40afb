package linux

// Mask bits of statx(2): the caller asks for fields with them and the
// kernel reports which ones it filled.
const (
	STATX_TYPE           = 0x00000001
	STATX_MODE           = 0x00000002
	STATX_NLINK          = 0x00000004
	STATX_UID            = 0x00000008
	STATX_GID            = 0x00000010
	STATX_ATIME          = 0x00000020
	STATX_MTIME          = 0x00000040
	STATX_CTIME          = 0x00000080
	STATX_INO            = 0x00000100
	STATX_SIZE           = 0x00000200
	STATX_BLOCKS         = 0x00000400
	STATX_BASIC_STATS    = 0x000007ff
	STATX_BTIME          = 0x00000800
	STATX_MNT_ID         = 0x00001000
	STATX_DIOALIGN       = 0x00002000
	STATX_MNT_ID_UNIQUE  = 0x00004000
	STATX_SUBVOL         = 0x00008000
	STATX_WRITE_ATOMIC   = 0x00010000
	STATX_DIO_READ_ALIGN = 0x00020000
	// STATX__RESERVED must be rejected with EINVAL so that it stays
	// available for a future struct extension.
	STATX__RESERVED = 0x80000000
	STATX_ALL       = 0x00000fff
)

// Bits of stx_attributes.
const (
	STATX_ATTR_COMPRESSED   = 0x00000004
	STATX_ATTR_IMMUTABLE    = 0x00000010
	STATX_ATTR_APPEND       = 0x00000020
	STATX_ATTR_NODUMP       = 0x00000040
	STATX_ATTR_ENCRYPTED    = 0x00000800
	STATX_ATTR_AUTOMOUNT    = 0x00001000
	STATX_ATTR_MOUNT_ROOT   = 0x00002000
	STATX_ATTR_VERITY       = 0x00100000
	STATX_ATTR_DAX          = 0x00200000
	STATX_ATTR_WRITE_ATOMIC = 0x00400000
)

// StatxTimestamp is struct statx_timestamp.
type StatxTimestamp struct {
	Sec  int64
	Nsec uint32
	_    int32
}

func (t *StatxTimestamp) put(dst []byte) {
	le.PutUint64(dst[0:], uint64(t.Sec))
	le.PutUint32(dst[8:], t.Nsec)
	clear(dst[12:16])
}

func (t *StatxTimestamp) get(src []byte) {
	t.Sec = int64(le.Uint64(src[0:]))
	t.Nsec = le.Uint32(src[8:])
}

// ToTimespec converts to a Timespec.
func (t StatxTimestamp) ToTimespec() Timespec {
	return Timespec{Sec: t.Sec, Nsec: int64(t.Nsec)}
}

// Statx is struct statx, the same on every architecture. Fields after
// DevMinor were added in later kernels inside what used to be spare
// space; the mask says whether they are valid.
type Statx struct {
	Mask                   uint32
	Blksize                uint32
	Attributes             uint64
	Nlink                  uint32
	UID                    uint32
	GID                    uint32
	Mode                   uint16
	_                      uint16
	Ino                    uint64
	Size                   uint64
	Blocks                 uint64
	AttributesMask         uint64
	Atime                  StatxTimestamp
	Btime                  StatxTimestamp
	Ctime                  StatxTimestamp
	Mtime                  StatxTimestamp
	RdevMajor              uint32
	RdevMinor              uint32
	DevMajor               uint32
	DevMinor               uint32
	MntID                  uint64
	DioMemAlign            uint32
	DioOffsetAlign         uint32
	Subvol                 uint64
	AtomicWriteUnitMin     uint32
	AtomicWriteUnitMax     uint32
	AtomicWriteSegmentsMax uint32
	DioReadOffsetAlign     uint32
	AtomicWriteUnitMaxOpt  uint32
	_                      uint32
	_                      [8]uint64
}

// SizeofStatx is sizeof(struct statx).
const SizeofStatx = 256

// SizeBytes implements marshal.Marshallable.
func (*Statx) SizeBytes() int { return SizeofStatx }

// MarshalBytes implements marshal.Marshallable.
func (s *Statx) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofStatx-1]
	le.PutUint32(dst[0:], s.Mask)
	le.PutUint32(dst[4:], s.Blksize)
	le.PutUint64(dst[8:], s.Attributes)
	le.PutUint32(dst[16:], s.Nlink)
	le.PutUint32(dst[20:], s.UID)
	le.PutUint32(dst[24:], s.GID)
	le.PutUint16(dst[28:], s.Mode)
	clear(dst[30:32])
	le.PutUint64(dst[32:], s.Ino)
	le.PutUint64(dst[40:], s.Size)
	le.PutUint64(dst[48:], s.Blocks)
	le.PutUint64(dst[56:], s.AttributesMask)
	s.Atime.put(dst[64:])
	s.Btime.put(dst[80:])
	s.Ctime.put(dst[96:])
	s.Mtime.put(dst[112:])
	le.PutUint32(dst[128:], s.RdevMajor)
	le.PutUint32(dst[132:], s.RdevMinor)
	le.PutUint32(dst[136:], s.DevMajor)
	le.PutUint32(dst[140:], s.DevMinor)
	le.PutUint64(dst[144:], s.MntID)
	le.PutUint32(dst[152:], s.DioMemAlign)
	le.PutUint32(dst[156:], s.DioOffsetAlign)
	le.PutUint64(dst[160:], s.Subvol)
	le.PutUint32(dst[168:], s.AtomicWriteUnitMin)
	le.PutUint32(dst[172:], s.AtomicWriteUnitMax)
	le.PutUint32(dst[176:], s.AtomicWriteSegmentsMax)
	le.PutUint32(dst[180:], s.DioReadOffsetAlign)
	le.PutUint32(dst[184:], s.AtomicWriteUnitMaxOpt)
	clear(dst[188:256])
	return dst[SizeofStatx:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *Statx) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofStatx-1]
	s.Mask = le.Uint32(src[0:])
	s.Blksize = le.Uint32(src[4:])
	s.Attributes = le.Uint64(src[8:])
	s.Nlink = le.Uint32(src[16:])
	s.UID = le.Uint32(src[20:])
	s.GID = le.Uint32(src[24:])
	s.Mode = le.Uint16(src[28:])
	s.Ino = le.Uint64(src[32:])
	s.Size = le.Uint64(src[40:])
	s.Blocks = le.Uint64(src[48:])
	s.AttributesMask = le.Uint64(src[56:])
	s.Atime.get(src[64:])
	s.Btime.get(src[80:])
	s.Ctime.get(src[96:])
	s.Mtime.get(src[112:])
	s.RdevMajor = le.Uint32(src[128:])
	s.RdevMinor = le.Uint32(src[132:])
	s.DevMajor = le.Uint32(src[136:])
	s.DevMinor = le.Uint32(src[140:])
	s.MntID = le.Uint64(src[144:])
	s.DioMemAlign = le.Uint32(src[152:])
	s.DioOffsetAlign = le.Uint32(src[156:])
	s.Subvol = le.Uint64(src[160:])
	s.AtomicWriteUnitMin = le.Uint32(src[168:])
	s.AtomicWriteUnitMax = le.Uint32(src[172:])
	s.AtomicWriteSegmentsMax = le.Uint32(src[176:])
	s.DioReadOffsetAlign = le.Uint32(src[180:])
	s.AtomicWriteUnitMaxOpt = le.Uint32(src[184:])
	return src[SizeofStatx:]
}
