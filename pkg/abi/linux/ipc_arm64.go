package linux

// SemidDS is struct semid64_ds in the asm-generic 64-bit layout.
type SemidDS struct {
	Perm  IPCPerm
	Otime int64
	Ctime int64
	Nsems uint64
}

// SizeofSemidDS is sizeof(struct semid64_ds).
const SizeofSemidDS = 88

// SizeBytes implements marshal.Marshallable.
func (*SemidDS) SizeBytes() int { return SizeofSemidDS }

// MarshalBytes implements marshal.Marshallable.
func (s *SemidDS) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofSemidDS-1]
	clear(dst[:SizeofSemidDS])
	s.Perm.MarshalBytes(dst)
	le.PutUint64(dst[48:], uint64(s.Otime))
	le.PutUint64(dst[56:], uint64(s.Ctime))
	le.PutUint64(dst[64:], s.Nsems)
	return dst[SizeofSemidDS:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *SemidDS) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofSemidDS-1]
	s.Perm.UnmarshalBytes(src)
	s.Otime = int64(le.Uint64(src[48:]))
	s.Ctime = int64(le.Uint64(src[56:]))
	s.Nsems = le.Uint64(src[64:])
	return src[SizeofSemidDS:]
}
