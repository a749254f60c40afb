package linux

// EpollEvent is struct epoll_event. arm64 does not pack it, so the 64-bit
// data is 8-aligned after 4 bytes of padding and the struct is 16 bytes.
type EpollEvent struct {
	Events uint32
	_      int32
	Data   [2]int32
}

// SizeofEpollEvent is sizeof(struct epoll_event) on arm64.
const SizeofEpollEvent = 16

// SizeBytes implements marshal.Marshallable.
func (*EpollEvent) SizeBytes() int { return SizeofEpollEvent }

// MarshalBytes implements marshal.Marshallable.
func (e *EpollEvent) MarshalBytes(dst []byte) []byte {
	_ = dst[15]
	le.PutUint32(dst[0:], e.Events)
	clear(dst[4:8])
	le.PutUint32(dst[8:], uint32(e.Data[0]))
	le.PutUint32(dst[12:], uint32(e.Data[1]))
	return dst[16:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (e *EpollEvent) UnmarshalBytes(src []byte) []byte {
	_ = src[15]
	e.Events = le.Uint32(src[0:])
	e.Data[0] = int32(le.Uint32(src[8:]))
	e.Data[1] = int32(le.Uint32(src[12:]))
	return src[16:]
}
