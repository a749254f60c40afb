package linux

// UTSLen is the size of each string field of struct utsname, including
// the terminating NUL (__NEW_UTS_LEN + 1).
const UTSLen = 65

// Utsname is struct new_utsname, what uname(2) returns. Each field is a
// NUL-terminated string in a fixed array.
type Utsname struct {
	Sysname    [UTSLen]byte
	Nodename   [UTSLen]byte
	Release    [UTSLen]byte
	Version    [UTSLen]byte
	Machine    [UTSLen]byte
	Domainname [UTSLen]byte
}

// SizeofUtsname is sizeof(struct new_utsname).
const SizeofUtsname = 6 * UTSLen

// SizeBytes implements marshal.Marshallable.
func (*Utsname) SizeBytes() int { return SizeofUtsname }

// MarshalBytes implements marshal.Marshallable.
func (u *Utsname) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofUtsname-1]
	for i, f := range u.fields() {
		copy(dst[i*UTSLen:], f[:])
	}
	return dst[SizeofUtsname:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (u *Utsname) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofUtsname-1]
	for i, f := range u.fields() {
		copy(f[:], src[i*UTSLen:])
	}
	return src[SizeofUtsname:]
}

func (u *Utsname) fields() [6]*[UTSLen]byte {
	return [6]*[UTSLen]byte{&u.Sysname, &u.Nodename, &u.Release, &u.Version, &u.Machine, &u.Domainname}
}

// SetUTSField stores s in f, truncated to leave room for the NUL.
func SetUTSField(f *[UTSLen]byte, s string) {
	clear(f[:])
	copy(f[:UTSLen-1], s)
}

// UTSFieldString returns the string in f up to its first NUL.
func UTSFieldString(f *[UTSLen]byte) string {
	for i, b := range f {
		if b == 0 {
			return string(f[:i])
		}
	}
	return string(f[:])
}

// Sysinfo is struct sysinfo (sysinfo(2)). Memory sizes are in units of
// Unit bytes. Loads are fixed-point with SI_LOAD_SHIFT fraction bits.
type Sysinfo struct {
	Uptime    int64
	Loads     [3]uint64
	TotalRAM  uint64
	FreeRAM   uint64
	SharedRAM uint64
	BufferRAM uint64
	TotalSwap uint64
	FreeSwap  uint64
	Procs     uint16
	_         [6]byte
	TotalHigh uint64
	FreeHigh  uint64
	Unit      uint32
	_         [4]byte
}

// SizeofSysinfo is sizeof(struct sysinfo) on 64-bit targets: the trailing
// char array of the 32-bit layout has length zero and only alignment
// padding remains.
const SizeofSysinfo = 112

// SI_LOAD_SHIFT is the number of fraction bits in Sysinfo.Loads.
const SI_LOAD_SHIFT = 16

// SizeBytes implements marshal.Marshallable.
func (*Sysinfo) SizeBytes() int { return SizeofSysinfo }

// MarshalBytes implements marshal.Marshallable.
func (s *Sysinfo) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofSysinfo-1]
	le.PutUint64(dst[0:], uint64(s.Uptime))
	le.PutUint64(dst[8:], s.Loads[0])
	le.PutUint64(dst[16:], s.Loads[1])
	le.PutUint64(dst[24:], s.Loads[2])
	le.PutUint64(dst[32:], s.TotalRAM)
	le.PutUint64(dst[40:], s.FreeRAM)
	le.PutUint64(dst[48:], s.SharedRAM)
	le.PutUint64(dst[56:], s.BufferRAM)
	le.PutUint64(dst[64:], s.TotalSwap)
	le.PutUint64(dst[72:], s.FreeSwap)
	le.PutUint16(dst[80:], s.Procs)
	clear(dst[82:88])
	le.PutUint64(dst[88:], s.TotalHigh)
	le.PutUint64(dst[96:], s.FreeHigh)
	le.PutUint32(dst[104:], s.Unit)
	clear(dst[108:112])
	return dst[SizeofSysinfo:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *Sysinfo) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofSysinfo-1]
	s.Uptime = int64(le.Uint64(src[0:]))
	s.Loads[0] = le.Uint64(src[8:])
	s.Loads[1] = le.Uint64(src[16:])
	s.Loads[2] = le.Uint64(src[24:])
	s.TotalRAM = le.Uint64(src[32:])
	s.FreeRAM = le.Uint64(src[40:])
	s.SharedRAM = le.Uint64(src[48:])
	s.BufferRAM = le.Uint64(src[56:])
	s.TotalSwap = le.Uint64(src[64:])
	s.FreeSwap = le.Uint64(src[72:])
	s.Procs = le.Uint16(src[80:])
	s.TotalHigh = le.Uint64(src[88:])
	s.FreeHigh = le.Uint64(src[96:])
	s.Unit = le.Uint32(src[104:])
	return src[SizeofSysinfo:]
}
