package linux

// seccomp(2) operations and prctl(PR_SET_SECCOMP) modes.
const (
	SECCOMP_MODE_DISABLED = 0
	SECCOMP_MODE_STRICT   = 1
	SECCOMP_MODE_FILTER   = 2

	SECCOMP_SET_MODE_STRICT  = 0
	SECCOMP_SET_MODE_FILTER  = 1
	SECCOMP_GET_ACTION_AVAIL = 2
	SECCOMP_GET_NOTIF_SIZES  = 3
)

// Flags for SECCOMP_SET_MODE_FILTER.
const (
	SECCOMP_FILTER_FLAG_TSYNC              = 1 << 0
	SECCOMP_FILTER_FLAG_LOG                = 1 << 1
	SECCOMP_FILTER_FLAG_SPEC_ALLOW         = 1 << 2
	SECCOMP_FILTER_FLAG_NEW_LISTENER       = 1 << 3
	SECCOMP_FILTER_FLAG_TSYNC_ESRCH        = 1 << 4
	SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5
)

// Filter return values. The action is in the high 16 bits (SECCOMP_RET_ACTION_FULL);
// when several filters disagree, the one with the lowest action value, taken
// as a signed 32-bit number, wins, which is why KILL_PROCESS is 0x80000000.
const (
	SECCOMP_RET_KILL_PROCESS = 0x80000000
	SECCOMP_RET_KILL_THREAD  = 0x00000000
	SECCOMP_RET_KILL         = SECCOMP_RET_KILL_THREAD
	SECCOMP_RET_TRAP         = 0x00030000
	SECCOMP_RET_ERRNO        = 0x00050000
	SECCOMP_RET_USER_NOTIF   = 0x7fc00000
	SECCOMP_RET_TRACE        = 0x7ff00000
	SECCOMP_RET_LOG          = 0x7ffc0000
	SECCOMP_RET_ALLOW        = 0x7fff0000

	SECCOMP_RET_ACTION_FULL = 0xffff0000
	SECCOMP_RET_ACTION      = 0x7fff0000
	SECCOMP_RET_DATA        = 0x0000ffff
)

// Audit architecture tokens, seccomp_data.arch. Filters must check it:
// syscall numbers mean different things on different architectures.
const (
	AUDIT_ARCH_64BIT   = 0x80000000
	AUDIT_ARCH_LE      = 0x40000000
	AUDIT_ARCH_X86_64  = EM_X86_64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE
	AUDIT_ARCH_AARCH64 = EM_AARCH64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE
	AUDIT_ARCH_I386    = EM_386 | AUDIT_ARCH_LE
)

// SeccompData is struct seccomp_data, the packet a seccomp BPF filter reads
// with absolute loads.
type SeccompData struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

// SizeofSeccompData is sizeof(struct seccomp_data).
const SizeofSeccompData = 64

// Offsets into SeccompData for BPF_LD|BPF_ABS instructions. Arguments are
// 64 bits but classic BPF loads 32: the low half of argument i is at
// SeccompDataOffsetArgLow(i), the high half 4 bytes later (little-endian).
const (
	SeccompDataOffsetNr     = 0
	SeccompDataOffsetArch   = 4
	SeccompDataOffsetIPLow  = 8
	SeccompDataOffsetIPHigh = 12
	SeccompDataOffsetArgs   = 16
)

// SeccompDataOffsetArgLow returns the offset of the low 32 bits of
// argument i.
func SeccompDataOffsetArgLow(i int) uint32 { return uint32(SeccompDataOffsetArgs + 8*i) }

// SeccompDataOffsetArgHigh returns the offset of the high 32 bits of
// argument i.
func SeccompDataOffsetArgHigh(i int) uint32 { return SeccompDataOffsetArgLow(i) + 4 }

// SizeBytes implements marshal.Marshallable.
func (*SeccompData) SizeBytes() int { return SizeofSeccompData }

// MarshalBytes implements marshal.Marshallable.
func (d *SeccompData) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofSeccompData-1]
	le.PutUint32(dst[0:], uint32(d.Nr))
	le.PutUint32(dst[4:], d.Arch)
	le.PutUint64(dst[8:], d.InstructionPointer)
	for i, a := range d.Args {
		le.PutUint64(dst[16+8*i:], a)
	}
	return dst[SizeofSeccompData:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (d *SeccompData) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofSeccompData-1]
	d.Nr = int32(le.Uint32(src[0:]))
	d.Arch = le.Uint32(src[4:])
	d.InstructionPointer = le.Uint64(src[8:])
	for i := range d.Args {
		d.Args[i] = le.Uint64(src[16+8*i:])
	}
	return src[SizeofSeccompData:]
}

// Classic BPF instruction fields (linux/filter.h, linux/bpf_common.h), the
// language of seccomp filters.
const (
	// Instruction classes.
	BPF_LD   = 0x00
	BPF_LDX  = 0x01
	BPF_ST   = 0x02
	BPF_STX  = 0x03
	BPF_ALU  = 0x04
	BPF_JMP  = 0x05
	BPF_RET  = 0x06
	BPF_MISC = 0x07

	// Load sizes.
	BPF_W = 0x00
	BPF_H = 0x08
	BPF_B = 0x10

	// Load modes.
	BPF_IMM = 0x00
	BPF_ABS = 0x20
	BPF_IND = 0x40
	BPF_MEM = 0x60
	BPF_LEN = 0x80
	BPF_MSH = 0xa0

	// ALU and jump operations.
	BPF_ADD  = 0x00
	BPF_SUB  = 0x10
	BPF_MUL  = 0x20
	BPF_DIV  = 0x30
	BPF_OR   = 0x40
	BPF_AND  = 0x50
	BPF_LSH  = 0x60
	BPF_RSH  = 0x70
	BPF_NEG  = 0x80
	BPF_MOD  = 0x90
	BPF_XOR  = 0xa0
	BPF_JA   = 0x00
	BPF_JEQ  = 0x10
	BPF_JGT  = 0x20
	BPF_JGE  = 0x30
	BPF_JSET = 0x40

	// Operand sources.
	BPF_K = 0x00
	BPF_X = 0x08
	BPF_A = 0x10

	// Misc operations.
	BPF_TAX = 0x00
	BPF_TXA = 0x80

	// BPF_MAXINSNS is the longest program the kernel accepts.
	BPF_MAXINSNS = 4096
	// BPF_MEMWORDS is the size of the scratch memory M[].
	BPF_MEMWORDS = 16
)

// SockFilter is struct sock_filter, one classic BPF instruction.
type SockFilter struct {
	Code uint16
	JT   uint8
	JF   uint8
	K    uint32
}

// SizeofSockFilter is sizeof(struct sock_filter).
const SizeofSockFilter = 8

// SizeBytes implements marshal.Marshallable.
func (*SockFilter) SizeBytes() int { return SizeofSockFilter }

// MarshalBytes implements marshal.Marshallable.
func (f *SockFilter) MarshalBytes(dst []byte) []byte {
	_ = dst[7]
	le.PutUint16(dst[0:], f.Code)
	dst[2] = f.JT
	dst[3] = f.JF
	le.PutUint32(dst[4:], f.K)
	return dst[8:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (f *SockFilter) UnmarshalBytes(src []byte) []byte {
	_ = src[7]
	f.Code = le.Uint16(src[0:])
	f.JT = src[2]
	f.JF = src[3]
	f.K = le.Uint32(src[4:])
	return src[8:]
}

// SockFprog is struct sock_fprog: a program length and a user pointer to
// Len SockFilters.
type SockFprog struct {
	Len    uint16
	_      [6]byte
	Filter uint64
}

// SizeofSockFprog is sizeof(struct sock_fprog).
const SizeofSockFprog = 16

// SizeBytes implements marshal.Marshallable.
func (p *SockFprog) SizeBytes() int { return SizeofSockFprog }

// MarshalBytes implements marshal.Marshallable.
func (p *SockFprog) MarshalBytes(dst []byte) []byte {
	_ = dst[15]
	le.PutUint16(dst[0:], p.Len)
	clear(dst[2:8])
	le.PutUint64(dst[8:], p.Filter)
	return dst[16:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (p *SockFprog) UnmarshalBytes(src []byte) []byte {
	_ = src[15]
	p.Len = le.Uint16(src[0:])
	p.Filter = le.Uint64(src[8:])
	return src[16:]
}
