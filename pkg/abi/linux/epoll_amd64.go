package linux

// EpollEvent is struct epoll_event. On x86-64 the kernel declares it
// packed, for compatibility with 32-bit x86, so the 64-bit data follows the
// events word directly at offset 4 and the struct is 12 bytes. Data is
// therefore two 32-bit halves: a uint64 field would be 8-aligned by Go.
type EpollEvent struct {
	Events uint32
	Data   [2]int32
}

// SizeofEpollEvent is sizeof(struct epoll_event) on amd64.
const SizeofEpollEvent = 12

// SizeBytes implements marshal.Marshallable.
func (*EpollEvent) SizeBytes() int { return SizeofEpollEvent }

// MarshalBytes implements marshal.Marshallable.
func (e *EpollEvent) MarshalBytes(dst []byte) []byte {
	_ = dst[11]
	le.PutUint32(dst[0:], e.Events)
	le.PutUint32(dst[4:], uint32(e.Data[0]))
	le.PutUint32(dst[8:], uint32(e.Data[1]))
	return dst[12:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (e *EpollEvent) UnmarshalBytes(src []byte) []byte {
	_ = src[11]
	e.Events = le.Uint32(src[0:])
	e.Data[0] = int32(le.Uint32(src[4:]))
	e.Data[1] = int32(le.Uint32(src[8:]))
	return src[12:]
}
