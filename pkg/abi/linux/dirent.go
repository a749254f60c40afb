package linux

// Dirent64Header is the fixed part of struct linux_dirent64 as
// getdents64(2) writes it; the NUL-terminated name follows, and the record
// is padded to 8 bytes. Reclen counts header, name, NUL and padding.
type Dirent64Header struct {
	Ino    uint64
	Off    int64
	Reclen uint16
	Type   uint8
}

// SizeofDirent64Header is offsetof(struct linux_dirent64, d_name).
const SizeofDirent64Header = 19

// SizeBytes implements marshal.Marshallable.
func (*Dirent64Header) SizeBytes() int { return SizeofDirent64Header }

// MarshalBytes implements marshal.Marshallable.
func (d *Dirent64Header) MarshalBytes(dst []byte) []byte {
	_ = dst[18]
	le.PutUint64(dst[0:], d.Ino)
	le.PutUint64(dst[8:], uint64(d.Off))
	le.PutUint16(dst[16:], d.Reclen)
	dst[18] = d.Type
	return dst[19:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (d *Dirent64Header) UnmarshalBytes(src []byte) []byte {
	_ = src[18]
	d.Ino = le.Uint64(src[0:])
	d.Off = int64(le.Uint64(src[8:]))
	d.Reclen = le.Uint16(src[16:])
	d.Type = src[18]
	return src[19:]
}

// Dirent64Reclen returns the record length of a linux_dirent64 with a name
// of nameLen bytes.
func Dirent64Reclen(nameLen int) int {
	return (SizeofDirent64Header + nameLen + 1 + 7) &^ 7
}

// AppendDirent64 appends one complete linux_dirent64 record to buf.
func AppendDirent64(buf []byte, ino uint64, off int64, typ uint8, name string) []byte {
	n := Dirent64Reclen(len(name))
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	h := Dirent64Header{Ino: ino, Off: off, Reclen: uint16(n), Type: typ}
	copy(h.MarshalBytes(buf[start:]), name)
	return buf
}

// DirentReclen returns the record length of the old struct linux_dirent
// (getdents(2), amd64 only): its header is ino, off, reclen (18 bytes),
// then the name and NUL, then the d_type byte at the very end, padded to 8.
func DirentReclen(nameLen int) int {
	return (18 + nameLen + 2 + 7) &^ 7
}
