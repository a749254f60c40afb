package linux

// Who values for getrusage(2).
const (
	RUSAGE_SELF     = 0
	RUSAGE_CHILDREN = -1
	// RUSAGE_BOTH is used inside the kernel for wait4; userspace can't
	// ask for it.
	RUSAGE_BOTH   = -2
	RUSAGE_THREAD = 1
)

// Rusage is struct rusage (getrusage(2), wait4(2)). Linux fills only some
// of the long fields; the rest stay for BSD compatibility.
type Rusage struct {
	UTime    Timeval
	STime    Timeval
	MaxRSS   int64
	IXRSS    int64
	IDRSS    int64
	ISRSS    int64
	MinFlt   int64
	MajFlt   int64
	NSwap    int64
	InBlock  int64
	OuBlock  int64
	MsgSnd   int64
	MsgRcv   int64
	NSignals int64
	NVCSw    int64
	NIvCSw   int64
}

// SizeofRusage is sizeof(struct rusage).
const SizeofRusage = 144

func (r *Rusage) longs() [14]*int64 {
	return [14]*int64{&r.MaxRSS, &r.IXRSS, &r.IDRSS, &r.ISRSS, &r.MinFlt, &r.MajFlt,
		&r.NSwap, &r.InBlock, &r.OuBlock, &r.MsgSnd, &r.MsgRcv, &r.NSignals, &r.NVCSw, &r.NIvCSw}
}

// SizeBytes implements marshal.Marshallable.
func (*Rusage) SizeBytes() int { return SizeofRusage }

// MarshalBytes implements marshal.Marshallable.
func (r *Rusage) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofRusage-1]
	r.UTime.MarshalBytes(dst[0:])
	r.STime.MarshalBytes(dst[16:])
	for i, p := range r.longs() {
		le.PutUint64(dst[32+8*i:], uint64(*p))
	}
	return dst[SizeofRusage:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (r *Rusage) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofRusage-1]
	r.UTime.UnmarshalBytes(src[0:])
	r.STime.UnmarshalBytes(src[16:])
	for i, p := range r.longs() {
		*p = int64(le.Uint64(src[32+8*i:]))
	}
	return src[SizeofRusage:]
}
