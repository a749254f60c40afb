package linux

// Stat is the arm64 struct stat, which is asm-generic's: mode before a
// 32-bit nlink, a 32-bit blksize, and explicit padding after rdev and
// blksize so the layout is the same for 32-bit compat tasks.
type Stat struct {
	Dev     uint64
	Ino     uint64
	Mode    uint32
	Nlink   uint32
	UID     uint32
	GID     uint32
	Rdev    uint64
	_       uint64
	Size    int64
	Blksize int32
	_       int32
	Blocks  int64
	ATime   Timespec
	MTime   Timespec
	CTime   Timespec
	_       [2]int32
}

// SizeofStat is sizeof(struct stat) on arm64.
const SizeofStat = 128

// SizeBytes implements marshal.Marshallable.
func (*Stat) SizeBytes() int { return SizeofStat }

// MarshalBytes implements marshal.Marshallable.
func (s *Stat) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofStat-1]
	le.PutUint64(dst[0:], s.Dev)
	le.PutUint64(dst[8:], s.Ino)
	le.PutUint32(dst[16:], s.Mode)
	le.PutUint32(dst[20:], s.Nlink)
	le.PutUint32(dst[24:], s.UID)
	le.PutUint32(dst[28:], s.GID)
	le.PutUint64(dst[32:], s.Rdev)
	clear(dst[40:48])
	le.PutUint64(dst[48:], uint64(s.Size))
	le.PutUint32(dst[56:], uint32(s.Blksize))
	clear(dst[60:64])
	le.PutUint64(dst[64:], uint64(s.Blocks))
	s.ATime.MarshalBytes(dst[72:])
	s.MTime.MarshalBytes(dst[88:])
	s.CTime.MarshalBytes(dst[104:])
	clear(dst[120:128])
	return dst[SizeofStat:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *Stat) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofStat-1]
	s.Dev = le.Uint64(src[0:])
	s.Ino = le.Uint64(src[8:])
	s.Mode = le.Uint32(src[16:])
	s.Nlink = le.Uint32(src[20:])
	s.UID = le.Uint32(src[24:])
	s.GID = le.Uint32(src[28:])
	s.Rdev = le.Uint64(src[32:])
	s.Size = int64(le.Uint64(src[48:]))
	s.Blksize = int32(le.Uint32(src[56:]))
	s.Blocks = int64(le.Uint64(src[64:]))
	s.ATime.UnmarshalBytes(src[72:])
	s.MTime.UnmarshalBytes(src[88:])
	s.CTime.UnmarshalBytes(src[104:])
	return src[SizeofStat:]
}
