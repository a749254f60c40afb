package linux

// UIO_MAXIOV is the most iovecs readv(2)/writev(2) accept (IOV_MAX).
const UIO_MAXIOV = 1024

// MAX_RW_COUNT caps the bytes one read or write transfers: INT_MAX rounded
// down to a page, so the result always fits the int return.
const MAX_RW_COUNT = (1<<31 - 1) &^ (PageSize - 1)

// Iovec is struct iovec.
type Iovec struct {
	Base uint64
	Len  uint64
}

// SizeofIovec is sizeof(struct iovec).
const SizeofIovec = 16

// SizeBytes implements marshal.Marshallable.
func (*Iovec) SizeBytes() int { return SizeofIovec }

// MarshalBytes implements marshal.Marshallable.
func (v *Iovec) MarshalBytes(dst []byte) []byte {
	_ = dst[15]
	le.PutUint64(dst[0:], v.Base)
	le.PutUint64(dst[8:], v.Len)
	return dst[16:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (v *Iovec) UnmarshalBytes(src []byte) []byte {
	_ = src[15]
	v.Base = le.Uint64(src[0:])
	v.Len = le.Uint64(src[8:])
	return src[16:]
}

// Flags for preadv2(2)/pwritev2(2).
const (
	RWF_HIPRI  = 0x00000001
	RWF_DSYNC  = 0x00000002
	RWF_SYNC   = 0x00000004
	RWF_NOWAIT = 0x00000008
	RWF_APPEND = 0x00000010
)
