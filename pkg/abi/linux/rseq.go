package linux

// Flags for rseq(2) and struct rseq.
const (
	RSEQ_FLAG_UNREGISTER = 1 << 0

	RSEQ_CS_FLAG_NO_RESTART_ON_PREEMPT = 1 << 0
	RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL  = 1 << 1
	RSEQ_CS_FLAG_NO_RESTART_ON_MIGRATE = 1 << 2

	// RSEQ_CPU_ID_UNINITIALIZED is what cpu_id holds before the first
	// update; RSEQ_CPU_ID_REGISTRATION_FAILED is what libc writes when
	// registration fails so code can test for it cheaply.
	RSEQ_CPU_ID_UNINITIALIZED       = -1
	RSEQ_CPU_ID_REGISTRATION_FAILED = -2
)

// RseqOrigSize is the size of the original struct rseq, the smallest
// rseq_len rseq(2) accepts. The struct is 32-byte aligned; newer kernels
// accept larger sizes and report theirs through AT_RSEQ_FEATURE_SIZE.
const RseqOrigSize = 32

// Rseq is struct rseq as registered by rseq(2), the part the kernel writes
// (cpu ids) and reads (rseq_cs, flags). NodeID and MMCID are the extended
// fields, valid only if the registered length covers them.
type Rseq struct {
	CPUIDStart uint32
	CPUID      uint32
	RseqCS     uint64
	Flags      uint32
	NodeID     uint32
	MMCID      uint32
	_          uint32
}

// SizeBytes implements marshal.Marshallable.
func (*Rseq) SizeBytes() int { return RseqOrigSize }

// MarshalBytes implements marshal.Marshallable.
func (r *Rseq) MarshalBytes(dst []byte) []byte {
	_ = dst[31]
	le.PutUint32(dst[0:], r.CPUIDStart)
	le.PutUint32(dst[4:], r.CPUID)
	le.PutUint64(dst[8:], r.RseqCS)
	le.PutUint32(dst[16:], r.Flags)
	le.PutUint32(dst[20:], r.NodeID)
	le.PutUint32(dst[24:], r.MMCID)
	clear(dst[28:32])
	return dst[32:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (r *Rseq) UnmarshalBytes(src []byte) []byte {
	_ = src[31]
	r.CPUIDStart = le.Uint32(src[0:])
	r.CPUID = le.Uint32(src[4:])
	r.RseqCS = le.Uint64(src[8:])
	r.Flags = le.Uint32(src[16:])
	r.NodeID = le.Uint32(src[20:])
	r.MMCID = le.Uint32(src[24:])
	return src[32:]
}

// Offsets in struct rseq of the fields the Sentry updates individually.
const (
	RseqOffsetCPUIDStart = 0
	RseqOffsetCPUID      = 4
	RseqOffsetRseqCS     = 8
	RseqOffsetFlags      = 16
	RseqOffsetNodeID     = 20
	RseqOffsetMMCID      = 24
)

// RseqCS is struct rseq_cs, a critical section descriptor.
type RseqCS struct {
	Version          uint32
	Flags            uint32
	Start            uint64
	PostCommitOffset uint64
	Abort            uint64
}

// SizeBytes implements marshal.Marshallable.
func (*RseqCS) SizeBytes() int { return 32 }

// MarshalBytes implements marshal.Marshallable.
func (c *RseqCS) MarshalBytes(dst []byte) []byte {
	_ = dst[31]
	le.PutUint32(dst[0:], c.Version)
	le.PutUint32(dst[4:], c.Flags)
	le.PutUint64(dst[8:], c.Start)
	le.PutUint64(dst[16:], c.PostCommitOffset)
	le.PutUint64(dst[24:], c.Abort)
	return dst[32:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (c *RseqCS) UnmarshalBytes(src []byte) []byte {
	_ = src[31]
	c.Version = le.Uint32(src[0:])
	c.Flags = le.Uint32(src[4:])
	c.Start = le.Uint64(src[8:])
	c.PostCommitOffset = le.Uint64(src[16:])
	c.Abort = le.Uint64(src[24:])
	return src[32:]
}
