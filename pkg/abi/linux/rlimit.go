package linux

// Resource numbers for getrlimit(2), setrlimit(2) and prlimit64(2).
const (
	RLIMIT_CPU        = 0
	RLIMIT_FSIZE      = 1
	RLIMIT_DATA       = 2
	RLIMIT_STACK      = 3
	RLIMIT_CORE       = 4
	RLIMIT_RSS        = 5
	RLIMIT_NPROC      = 6
	RLIMIT_NOFILE     = 7
	RLIMIT_MEMLOCK    = 8
	RLIMIT_AS         = 9
	RLIMIT_LOCKS      = 10
	RLIMIT_SIGPENDING = 11
	RLIMIT_MSGQUEUE   = 12
	RLIMIT_NICE       = 13
	RLIMIT_RTPRIO     = 14
	RLIMIT_RTTIME     = 15
	RLIM_NLIMITS      = 16
)

// RLimInfinity means "no limit"; on 64-bit targets the rlimit and rlimit64
// encodings coincide.
const RLimInfinity = ^uint64(0)

// Rlimit is struct rlimit (and struct rlimit64).
type Rlimit struct {
	Cur uint64
	Max uint64
}

// SizeBytes implements marshal.Marshallable.
func (*Rlimit) SizeBytes() int { return 16 }

// MarshalBytes implements marshal.Marshallable.
func (r *Rlimit) MarshalBytes(dst []byte) []byte {
	_ = dst[15]
	le.PutUint64(dst[0:], r.Cur)
	le.PutUint64(dst[8:], r.Max)
	return dst[16:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (r *Rlimit) UnmarshalBytes(src []byte) []byte {
	_ = src[15]
	r.Cur = le.Uint64(src[0:])
	r.Max = le.Uint64(src[8:])
	return src[16:]
}
