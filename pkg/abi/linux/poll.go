package linux

// Event bits of poll(2), ppoll(2) and select(2) readiness. They are also
// the internal readiness mask of the Sentry's waiters, which is why
// POLLRDHUP and POLLFREE are here even though poll(2) callers rarely use
// them.
const (
	POLLIN     = 0x0001
	POLLPRI    = 0x0002
	POLLOUT    = 0x0004
	POLLERR    = 0x0008
	POLLHUP    = 0x0010
	POLLNVAL   = 0x0020
	POLLRDNORM = 0x0040
	POLLRDBAND = 0x0080
	POLLWRNORM = 0x0100
	POLLWRBAND = 0x0200
	POLLMSG    = 0x0400
	POLLREMOVE = 0x1000
	POLLRDHUP  = 0x2000
	POLLFREE   = 0x4000
)

// PollFD is struct pollfd.
type PollFD struct {
	FD      int32
	Events  int16
	REvents int16
}

// SizeofPollFD is sizeof(struct pollfd).
const SizeofPollFD = 8

// SizeBytes implements marshal.Marshallable.
func (*PollFD) SizeBytes() int { return SizeofPollFD }

// MarshalBytes implements marshal.Marshallable.
func (p *PollFD) MarshalBytes(dst []byte) []byte {
	_ = dst[7]
	le.PutUint32(dst[0:], uint32(p.FD))
	le.PutUint16(dst[4:], uint16(p.Events))
	le.PutUint16(dst[6:], uint16(p.REvents))
	return dst[8:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (p *PollFD) UnmarshalBytes(src []byte) []byte {
	_ = src[7]
	p.FD = int32(le.Uint32(src[0:]))
	p.Events = int16(le.Uint16(src[4:]))
	p.REvents = int16(le.Uint16(src[6:]))
	return src[8:]
}

// FD_SETSIZE is the number of descriptors a select(2) fd_set holds in
// glibc; the kernel accepts any nfds up to RLIMIT_NOFILE, in whole longs.
const FD_SETSIZE = 1024
