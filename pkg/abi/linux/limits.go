package linux

// Kernel limits that applications can observe.
const (
	// PATH_MAX bounds a path argument, including its NUL.
	PATH_MAX = 4096
	// NAME_MAX bounds one path component.
	NAME_MAX = 255
	// XATTR_NAME_MAX, XATTR_SIZE_MAX and XATTR_LIST_MAX bound extended
	// attribute names, values and listxattr(2) results.
	XATTR_NAME_MAX = 255
	XATTR_SIZE_MAX = 65536
	XATTR_LIST_MAX = 65536
	// PIPE_BUF is the largest write to a pipe that is atomic.
	PIPE_BUF = 4096
	// NGROUPS_MAX is the most supplementary groups setgroups(2) accepts.
	NGROUPS_MAX = 65536
	// ARG_MAX is the historical limit on argv+envp; the real one is a
	// quarter of RLIMIT_STACK.
	ARG_MAX = 131072
	// MAX_ARG_STRLEN bounds a single argv or envp string: 32 pages.
	MAX_ARG_STRLEN = 32 * PageSize
	// MAX_ARG_STRINGS bounds the count of argv plus envp strings.
	MAX_ARG_STRINGS = 0x7FFFFFFF
	// NR_OPEN is the ceiling on RLIMIT_NOFILE (fs.nr_open default).
	NR_OPEN = 1 << 20
	// PID_MAX_LIMIT is the largest PID a 64-bit kernel can allocate.
	PID_MAX_LIMIT = 1 << 22
	// PIPE_DEF_BUFFERS*PageSize is a pipe's default capacity.
	PIPE_DEF_BUFFERS = 16
	// MaxSymlinkTraversals is the kernel's MAXSYMLINKS: following more
	// symlinks than this in one path walk fails with ELOOP.
	MaxSymlinkTraversals = 40
	// HOST_NAME_MAX bounds sethostname(2) and setdomainname(2).
	HOST_NAME_MAX = 64
)

// Special user and group IDs.
const (
	// OverflowUID/GID is what a UID with no mapping in the caller's user
	// namespace reads as (the "nobody" of /proc/sys/kernel/overflowuid).
	OverflowUID = 65534
	OverflowGID = 65534
	// NoID (-1 as uid_t) in set*id calls means "leave unchanged".
	NoID = ^uint32(0)
)
