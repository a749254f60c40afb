package linux

// futex(2) operations. The op argument is one of these, possibly or-ed with
// FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME; FUTEX_CMD_MASK strips those.
const (
	FUTEX_WAIT            = 0
	FUTEX_WAKE            = 1
	FUTEX_FD              = 2
	FUTEX_REQUEUE         = 3
	FUTEX_CMP_REQUEUE     = 4
	FUTEX_WAKE_OP         = 5
	FUTEX_LOCK_PI         = 6
	FUTEX_UNLOCK_PI       = 7
	FUTEX_TRYLOCK_PI      = 8
	FUTEX_WAIT_BITSET     = 9
	FUTEX_WAKE_BITSET     = 10
	FUTEX_WAIT_REQUEUE_PI = 11
	FUTEX_CMP_REQUEUE_PI  = 12
	FUTEX_LOCK_PI2        = 13

	// FUTEX_PRIVATE_FLAG promises the futex is not shared between address
	// spaces, which lets it be keyed by virtual address alone.
	FUTEX_PRIVATE_FLAG   = 128
	FUTEX_CLOCK_REALTIME = 256
	FUTEX_CMD_MASK       = ^(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)

	FUTEX_WAIT_PRIVATE        = FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	FUTEX_WAKE_PRIVATE        = FUTEX_WAKE | FUTEX_PRIVATE_FLAG
	FUTEX_REQUEUE_PRIVATE     = FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG
	FUTEX_CMP_REQUEUE_PRIVATE = FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG
	FUTEX_WAKE_OP_PRIVATE     = FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG
	FUTEX_LOCK_PI_PRIVATE     = FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG
	FUTEX_UNLOCK_PI_PRIVATE   = FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG
	FUTEX_TRYLOCK_PI_PRIVATE  = FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG
	FUTEX_WAIT_BITSET_PRIVATE = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG
	FUTEX_WAKE_BITSET_PRIVATE = FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG
)

// FUTEX_BITSET_MATCH_ANY is the bitset FUTEX_WAIT/FUTEX_WAKE behave as if
// they were given.
const FUTEX_BITSET_MATCH_ANY = 0xffffffff

// Bits of a PI or robust futex word: the low 30 bits hold the owner's TID.
const (
	FUTEX_WAITERS    = 0x80000000
	FUTEX_OWNER_DIED = 0x40000000
	FUTEX_TID_MASK   = 0x3fffffff
)

// ROBUST_LIST_LIMIT bounds the robust list walk at exit, so a corrupt or
// circular list cannot hang the exiting thread.
const ROBUST_LIST_LIMIT = 2048

// FUTEX_WAKE_OP encoding: the op word is
// (op << 28) | (cmp << 24) | (oparg << 12) | cmparg, with oparg and cmparg
// sign-extended 12-bit values.
const (
	FUTEX_OP_SET  = 0
	FUTEX_OP_ADD  = 1
	FUTEX_OP_OR   = 2
	FUTEX_OP_ANDN = 3
	FUTEX_OP_XOR  = 4

	// FUTEX_OP_OPARG_SHIFT in the op nibble means "use 1 << oparg".
	FUTEX_OP_OPARG_SHIFT = 8

	FUTEX_OP_CMP_EQ = 0
	FUTEX_OP_CMP_NE = 1
	FUTEX_OP_CMP_LT = 2
	FUTEX_OP_CMP_LE = 3
	FUTEX_OP_CMP_GT = 4
	FUTEX_OP_CMP_GE = 5
)

// futex_waitv(2) limits and flags.
const (
	FUTEX_32        = 2
	FUTEX_WAITV_MAX = 128
)

// RobustListHead is struct robust_list_head, registered with
// set_robust_list(2). List is the first element's next pointer; each
// element's futex word lives FutexOffset bytes from the element.
type RobustListHead struct {
	List          uint64
	FutexOffset   int64
	ListOpPending uint64
}

// SizeofRobustListHead is the only size set_robust_list(2) accepts.
const SizeofRobustListHead = 24

// SizeBytes implements marshal.Marshallable.
func (*RobustListHead) SizeBytes() int { return SizeofRobustListHead }

// MarshalBytes implements marshal.Marshallable.
func (r *RobustListHead) MarshalBytes(dst []byte) []byte {
	_ = dst[23]
	le.PutUint64(dst[0:], r.List)
	le.PutUint64(dst[8:], uint64(r.FutexOffset))
	le.PutUint64(dst[16:], r.ListOpPending)
	return dst[24:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (r *RobustListHead) UnmarshalBytes(src []byte) []byte {
	_ = src[23]
	r.List = le.Uint64(src[0:])
	r.FutexOffset = int64(le.Uint64(src[8:]))
	r.ListOpPending = le.Uint64(src[16:])
	return src[24:]
}

// FutexWaitv is struct futex_waitv, one element of futex_waitv(2)'s array.
type FutexWaitv struct {
	Val   uint64
	Uaddr uint64
	Flags uint32
	_     uint32
}

// SizeBytes implements marshal.Marshallable.
func (*FutexWaitv) SizeBytes() int { return 24 }

// MarshalBytes implements marshal.Marshallable.
func (f *FutexWaitv) MarshalBytes(dst []byte) []byte {
	_ = dst[23]
	le.PutUint64(dst[0:], f.Val)
	le.PutUint64(dst[8:], f.Uaddr)
	le.PutUint32(dst[16:], f.Flags)
	clear(dst[20:24])
	return dst[24:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (f *FutexWaitv) UnmarshalBytes(src []byte) []byte {
	_ = src[23]
	f.Val = le.Uint64(src[0:])
	f.Uaddr = le.Uint64(src[8:])
	f.Flags = le.Uint32(src[16:])
	return src[24:]
}
