package marshal

import "encoding/binary"

// Scalar types that syscalls exchange through pointers (futex words,
// set_tid_address targets, socklen_t, the result of pipe2...). Giving them
// the Marshallable methods lets the same copy-in/copy-out path serve them.

// Int32 is a C int.
type Int32 int32

// Uint32 is a C unsigned int.
type Uint32 uint32

// Int64 is a C long on both targets.
type Int64 int64

// Uint64 is a C unsigned long on both targets, and a user pointer.
type Uint64 uint64

// Uint16 is a C unsigned short.
type Uint16 uint16

// Uint8 is a C unsigned char.
type Uint8 uint8

// SizeBytes implements Marshallable.
func (*Int32) SizeBytes() int { return 4 }

// MarshalBytes implements Marshallable.
func (v *Int32) MarshalBytes(dst []byte) []byte {
	binary.LittleEndian.PutUint32(dst, uint32(*v))
	return dst[4:]
}

// UnmarshalBytes implements Marshallable.
func (v *Int32) UnmarshalBytes(src []byte) []byte {
	*v = Int32(binary.LittleEndian.Uint32(src))
	return src[4:]
}

// SizeBytes implements Marshallable.
func (*Uint32) SizeBytes() int { return 4 }

// MarshalBytes implements Marshallable.
func (v *Uint32) MarshalBytes(dst []byte) []byte {
	binary.LittleEndian.PutUint32(dst, uint32(*v))
	return dst[4:]
}

// UnmarshalBytes implements Marshallable.
func (v *Uint32) UnmarshalBytes(src []byte) []byte {
	*v = Uint32(binary.LittleEndian.Uint32(src))
	return src[4:]
}

// SizeBytes implements Marshallable.
func (*Int64) SizeBytes() int { return 8 }

// MarshalBytes implements Marshallable.
func (v *Int64) MarshalBytes(dst []byte) []byte {
	binary.LittleEndian.PutUint64(dst, uint64(*v))
	return dst[8:]
}

// UnmarshalBytes implements Marshallable.
func (v *Int64) UnmarshalBytes(src []byte) []byte {
	*v = Int64(binary.LittleEndian.Uint64(src))
	return src[8:]
}

// SizeBytes implements Marshallable.
func (*Uint64) SizeBytes() int { return 8 }

// MarshalBytes implements Marshallable.
func (v *Uint64) MarshalBytes(dst []byte) []byte {
	binary.LittleEndian.PutUint64(dst, uint64(*v))
	return dst[8:]
}

// UnmarshalBytes implements Marshallable.
func (v *Uint64) UnmarshalBytes(src []byte) []byte {
	*v = Uint64(binary.LittleEndian.Uint64(src))
	return src[8:]
}

// SizeBytes implements Marshallable.
func (*Uint16) SizeBytes() int { return 2 }

// MarshalBytes implements Marshallable.
func (v *Uint16) MarshalBytes(dst []byte) []byte {
	binary.LittleEndian.PutUint16(dst, uint16(*v))
	return dst[2:]
}

// UnmarshalBytes implements Marshallable.
func (v *Uint16) UnmarshalBytes(src []byte) []byte {
	*v = Uint16(binary.LittleEndian.Uint16(src))
	return src[2:]
}

// SizeBytes implements Marshallable.
func (*Uint8) SizeBytes() int { return 1 }

// MarshalBytes implements Marshallable.
func (v *Uint8) MarshalBytes(dst []byte) []byte {
	dst[0] = byte(*v)
	return dst[1:]
}

// UnmarshalBytes implements Marshallable.
func (v *Uint8) UnmarshalBytes(src []byte) []byte {
	*v = Uint8(src[0])
	return src[1:]
}
