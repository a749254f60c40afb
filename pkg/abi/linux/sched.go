package linux

// Flags for clone(2), clone3(2) and unshare(2). The low byte of clone(2)'s
// flags is not a flag but the signal sent to the parent when the child
// exits (CSIGNAL); clone3 moves it to CloneArgs.ExitSignal.
const (
	CSIGNAL              = 0x000000ff
	CLONE_NEWTIME        = 0x00000080
	CLONE_VM             = 0x00000100
	CLONE_FS             = 0x00000200
	CLONE_FILES          = 0x00000400
	CLONE_SIGHAND        = 0x00000800
	CLONE_PIDFD          = 0x00001000
	CLONE_PTRACE         = 0x00002000
	CLONE_VFORK          = 0x00004000
	CLONE_PARENT         = 0x00008000
	CLONE_THREAD         = 0x00010000
	CLONE_NEWNS          = 0x00020000
	CLONE_SYSVSEM        = 0x00040000
	CLONE_SETTLS         = 0x00080000
	CLONE_PARENT_SETTID  = 0x00100000
	CLONE_CHILD_CLEARTID = 0x00200000
	CLONE_DETACHED       = 0x00400000
	CLONE_UNTRACED       = 0x00800000
	CLONE_CHILD_SETTID   = 0x01000000
	CLONE_NEWCGROUP      = 0x02000000
	CLONE_NEWUTS         = 0x04000000
	CLONE_NEWIPC         = 0x08000000
	CLONE_NEWUSER        = 0x10000000
	CLONE_NEWPID         = 0x20000000
	CLONE_NEWNET         = 0x40000000
	CLONE_IO             = 0x80000000

	// Flags that only fit in clone3's 64-bit flags word.
	CLONE_CLEAR_SIGHAND = 0x100000000
	CLONE_INTO_CGROUP   = 0x200000000
)

// Published sizes of struct clone_args; clone3(2) accepts any of them and
// treats missing trailing fields as zero.
const (
	CLONE_ARGS_SIZE_VER0 = 64
	CLONE_ARGS_SIZE_VER1 = 80
	CLONE_ARGS_SIZE_VER2 = 88
)

// CloneArgs is struct clone_args, the argument of clone3(2). Every field
// is a __aligned_u64 regardless of what it holds (pointers, fds, sizes).
type CloneArgs struct {
	Flags      uint64
	Pidfd      uint64
	ChildTID   uint64
	ParentTID  uint64
	ExitSignal uint64
	Stack      uint64
	StackSize  uint64
	TLS        uint64
	SetTID     uint64
	SetTIDSize uint64
	Cgroup     uint64
}

// SizeBytes implements marshal.Marshallable.
func (*CloneArgs) SizeBytes() int { return CLONE_ARGS_SIZE_VER2 }

func (c *CloneArgs) fields() [11]*uint64 {
	return [11]*uint64{&c.Flags, &c.Pidfd, &c.ChildTID, &c.ParentTID, &c.ExitSignal,
		&c.Stack, &c.StackSize, &c.TLS, &c.SetTID, &c.SetTIDSize, &c.Cgroup}
}

// MarshalBytes implements marshal.Marshallable.
func (c *CloneArgs) MarshalBytes(dst []byte) []byte {
	_ = dst[CLONE_ARGS_SIZE_VER2-1]
	for i, f := range c.fields() {
		le.PutUint64(dst[8*i:], *f)
	}
	return dst[CLONE_ARGS_SIZE_VER2:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (c *CloneArgs) UnmarshalBytes(src []byte) []byte {
	_ = src[CLONE_ARGS_SIZE_VER2-1]
	for i, f := range c.fields() {
		*f = le.Uint64(src[8*i:])
	}
	return src[CLONE_ARGS_SIZE_VER2:]
}

// Scheduling policies for sched_setscheduler(2).
const (
	SCHED_NORMAL   = 0
	SCHED_FIFO     = 1
	SCHED_RR       = 2
	SCHED_BATCH    = 3
	SCHED_IDLE     = 5
	SCHED_DEADLINE = 6

	// SCHED_RESET_ON_FORK may be or-ed into the policy.
	SCHED_RESET_ON_FORK = 0x40000000
)

// Flags for sched_setattr(2) (struct sched_attr.sched_flags).
const (
	SCHED_FLAG_RESET_ON_FORK  = 0x01
	SCHED_FLAG_RECLAIM        = 0x02
	SCHED_FLAG_DL_OVERRUN     = 0x04
	SCHED_FLAG_KEEP_POLICY    = 0x08
	SCHED_FLAG_KEEP_PARAMS    = 0x10
	SCHED_FLAG_UTIL_CLAMP_MIN = 0x20
	SCHED_FLAG_UTIL_CLAMP_MAX = 0x40
)

// Targets for getpriority(2)/setpriority(2).
const (
	PRIO_PROCESS = 0
	PRIO_PGRP    = 1
	PRIO_USER    = 2
)

// Nice value range.
const (
	MinNice = -20
	MaxNice = 19
)
