package linux

// Stat is the amd64 struct stat filled by stat(2), fstat(2), lstat(2) and
// newfstatat(2). amd64 kept the field order of its own early ABI (nlink
// before mode, 64-bit nlink and blksize), so it differs from arm64's.
type Stat struct {
	Dev     uint64
	Ino     uint64
	Nlink   uint64
	Mode    uint32
	UID     uint32
	GID     uint32
	_       int32
	Rdev    uint64
	Size    int64
	Blksize int64
	Blocks  int64
	ATime   Timespec
	MTime   Timespec
	CTime   Timespec
	_       [3]int64
}

// SizeofStat is sizeof(struct stat) on amd64.
const SizeofStat = 144

// SizeBytes implements marshal.Marshallable.
func (*Stat) SizeBytes() int { return SizeofStat }

// MarshalBytes implements marshal.Marshallable.
func (s *Stat) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofStat-1]
	le.PutUint64(dst[0:], s.Dev)
	le.PutUint64(dst[8:], s.Ino)
	le.PutUint64(dst[16:], s.Nlink)
	le.PutUint32(dst[24:], s.Mode)
	le.PutUint32(dst[28:], s.UID)
	le.PutUint32(dst[32:], s.GID)
	clear(dst[36:40])
	le.PutUint64(dst[40:], s.Rdev)
	le.PutUint64(dst[48:], uint64(s.Size))
	le.PutUint64(dst[56:], uint64(s.Blksize))
	le.PutUint64(dst[64:], uint64(s.Blocks))
	s.ATime.MarshalBytes(dst[72:])
	s.MTime.MarshalBytes(dst[88:])
	s.CTime.MarshalBytes(dst[104:])
	clear(dst[120:144])
	return dst[SizeofStat:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *Stat) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofStat-1]
	s.Dev = le.Uint64(src[0:])
	s.Ino = le.Uint64(src[8:])
	s.Nlink = le.Uint64(src[16:])
	s.Mode = le.Uint32(src[24:])
	s.UID = le.Uint32(src[28:])
	s.GID = le.Uint32(src[32:])
	s.Rdev = le.Uint64(src[40:])
	s.Size = int64(le.Uint64(src[48:]))
	s.Blksize = int64(le.Uint64(src[56:]))
	s.Blocks = int64(le.Uint64(src[64:]))
	s.ATime.UnmarshalBytes(src[72:])
	s.MTime.UnmarshalBytes(src[88:])
	s.CTime.UnmarshalBytes(src[104:])
	return src[SizeofStat:]
}
