package linux

// Flags for open(2), openat(2) and the f_flags of a file description that
// are the same on amd64 and arm64. The four that differ (O_DIRECT,
// O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW) are in fcntl_$GOARCH.go.
const (
	O_ACCMODE  = 00000003
	O_RDONLY   = 00000000
	O_WRONLY   = 00000001
	O_RDWR     = 00000002
	O_CREAT    = 00000100
	O_EXCL     = 00000200
	O_NOCTTY   = 00000400
	O_TRUNC    = 00001000
	O_APPEND   = 00002000
	O_NONBLOCK = 00004000
	O_DSYNC    = 00010000
	FASYNC     = 00020000
	O_ASYNC    = FASYNC
	O_NOATIME  = 01000000
	O_CLOEXEC  = 02000000
	// O_SYNC includes O_DSYNC so that old binaries, whose O_SYNC was the
	// current O_DSYNC bit, still get at least data integrity.
	O_SYNC   = 04000000 | O_DSYNC
	O_RSYNC  = O_SYNC
	O_PATH   = 010000000
	O_NDELAY = O_NONBLOCK
	// O_TMPFILE carries O_DIRECTORY so that kernels that predate it fail
	// the open instead of creating a regular file.
	O_TMPFILE = 020000000 | O_DIRECTORY
)

// fcntl(2) commands.
const (
	F_DUPFD      = 0
	F_GETFD      = 1
	F_SETFD      = 2
	F_GETFL      = 3
	F_SETFL      = 4
	F_GETLK      = 5
	F_SETLK      = 6
	F_SETLKW     = 7
	F_SETOWN     = 8
	F_GETOWN     = 9
	F_SETSIG     = 10
	F_GETSIG     = 11
	F_SETOWN_EX  = 15
	F_GETOWN_EX  = 16
	F_OFD_GETLK  = 36
	F_OFD_SETLK  = 37
	F_OFD_SETLKW = 38

	F_LINUX_SPECIFIC_BASE = 1024
	F_SETLEASE            = F_LINUX_SPECIFIC_BASE + 0
	F_GETLEASE            = F_LINUX_SPECIFIC_BASE + 1
	F_NOTIFY              = F_LINUX_SPECIFIC_BASE + 2
	F_DUPFD_QUERY         = F_LINUX_SPECIFIC_BASE + 3
	F_CREATED_QUERY       = F_LINUX_SPECIFIC_BASE + 4
	F_CANCELLK            = F_LINUX_SPECIFIC_BASE + 5
	F_DUPFD_CLOEXEC       = F_LINUX_SPECIFIC_BASE + 6
	F_SETPIPE_SZ          = F_LINUX_SPECIFIC_BASE + 7
	F_GETPIPE_SZ          = F_LINUX_SPECIFIC_BASE + 8
	F_ADD_SEALS           = F_LINUX_SPECIFIC_BASE + 9
	F_GET_SEALS           = F_LINUX_SPECIFIC_BASE + 10
	F_GET_RW_HINT         = F_LINUX_SPECIFIC_BASE + 11
	F_SET_RW_HINT         = F_LINUX_SPECIFIC_BASE + 12
	F_GET_FILE_RW_HINT    = F_LINUX_SPECIFIC_BASE + 13
	F_SET_FILE_RW_HINT    = F_LINUX_SPECIFIC_BASE + 14
)

// FD_CLOEXEC is the only file descriptor flag (F_GETFD/F_SETFD).
const FD_CLOEXEC = 1

// Owner types for F_SETOWN_EX/F_GETOWN_EX.
const (
	F_OWNER_TID  = 0
	F_OWNER_PID  = 1
	F_OWNER_PGRP = 2
)

// Record lock types (struct flock l_type) and lease types.
const (
	F_RDLCK = 0
	F_WRLCK = 1
	F_UNLCK = 2
)

// flock(2) operations.
const (
	LOCK_SH = 1
	LOCK_EX = 2
	LOCK_NB = 4
	LOCK_UN = 8
)

// File seals for memfd (F_ADD_SEALS/F_GET_SEALS).
const (
	F_SEAL_SEAL         = 0x0001
	F_SEAL_SHRINK       = 0x0002
	F_SEAL_GROW         = 0x0004
	F_SEAL_WRITE        = 0x0008
	F_SEAL_FUTURE_WRITE = 0x0010
	F_SEAL_EXEC         = 0x0020
)

// Directory notification events for F_NOTIFY.
const (
	DN_ACCESS    = 0x00000001
	DN_MODIFY    = 0x00000002
	DN_CREATE    = 0x00000004
	DN_DELETE    = 0x00000008
	DN_RENAME    = 0x00000010
	DN_ATTRIB    = 0x00000020
	DN_MULTISHOT = 0x80000000
)

// Values and flags of the *at() family of syscalls.
const (
	// AT_FDCWD as a dirfd means "relative to the working directory".
	AT_FDCWD            = -100
	AT_SYMLINK_NOFOLLOW = 0x100
	// AT_EACCESS (faccessat) and AT_REMOVEDIR (unlinkat) share a bit; each
	// syscall accepts only the one that makes sense for it.
	AT_EACCESS            = 0x200
	AT_REMOVEDIR          = 0x200
	AT_SYMLINK_FOLLOW     = 0x400
	AT_NO_AUTOMOUNT       = 0x800
	AT_EMPTY_PATH         = 0x1000
	AT_STATX_SYNC_TYPE    = 0x6000
	AT_STATX_SYNC_AS_STAT = 0x0000
	AT_STATX_FORCE_SYNC   = 0x2000
	AT_STATX_DONT_SYNC    = 0x4000
	AT_RECURSIVE          = 0x8000
)

// Flags for renameat2(2).
const (
	RENAME_NOREPLACE = 1 << 0
	RENAME_EXCHANGE  = 1 << 1
	RENAME_WHITEOUT  = 1 << 2
)

// Flags for close_range(2).
const (
	CLOSE_RANGE_UNSHARE = 1 << 1
	CLOSE_RANGE_CLOEXEC = 1 << 2
)

// Resolve flags for openat2(2) (struct open_how.resolve).
const (
	RESOLVE_NO_XDEV       = 0x01
	RESOLVE_NO_MAGICLINKS = 0x02
	RESOLVE_NO_SYMLINKS   = 0x04
	RESOLVE_BENEATH       = 0x08
	RESOLVE_IN_ROOT       = 0x10
	RESOLVE_CACHED        = 0x20
)

// OpenHow is struct open_how, the argument of openat2(2). The syscall
// takes its size, so future kernels may pass a longer struct; handlers
// must accept that only if the extra bytes are zero.
type OpenHow struct {
	Flags   uint64
	Mode    uint64
	Resolve uint64
}

// SizeofOpenHow is the size of the first (and so far only) version of
// struct open_how, OPEN_HOW_SIZE_VER0.
const SizeofOpenHow = 24

// SizeBytes implements marshal.Marshallable.
func (*OpenHow) SizeBytes() int { return SizeofOpenHow }

// MarshalBytes implements marshal.Marshallable.
func (o *OpenHow) MarshalBytes(dst []byte) []byte {
	_ = dst[23]
	le.PutUint64(dst[0:], o.Flags)
	le.PutUint64(dst[8:], o.Mode)
	le.PutUint64(dst[16:], o.Resolve)
	return dst[24:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (o *OpenHow) UnmarshalBytes(src []byte) []byte {
	_ = src[23]
	o.Flags = le.Uint64(src[0:])
	o.Mode = le.Uint64(src[8:])
	o.Resolve = le.Uint64(src[16:])
	return src[24:]
}

// Flock is struct flock (identical to struct flock64 on 64-bit targets).
type Flock struct {
	Type   int16
	Whence int16
	_      [4]byte
	Start  int64
	Len    int64
	PID    int32
	_      [4]byte
}

// SizeBytes implements marshal.Marshallable.
func (*Flock) SizeBytes() int { return 32 }

// MarshalBytes implements marshal.Marshallable.
func (f *Flock) MarshalBytes(dst []byte) []byte {
	_ = dst[31]
	le.PutUint16(dst[0:], uint16(f.Type))
	le.PutUint16(dst[2:], uint16(f.Whence))
	clear(dst[4:8])
	le.PutUint64(dst[8:], uint64(f.Start))
	le.PutUint64(dst[16:], uint64(f.Len))
	le.PutUint32(dst[24:], uint32(f.PID))
	clear(dst[28:32])
	return dst[32:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (f *Flock) UnmarshalBytes(src []byte) []byte {
	_ = src[31]
	f.Type = int16(le.Uint16(src[0:]))
	f.Whence = int16(le.Uint16(src[2:]))
	f.Start = int64(le.Uint64(src[8:]))
	f.Len = int64(le.Uint64(src[16:]))
	f.PID = int32(le.Uint32(src[24:]))
	return src[32:]
}

// FOwnerEx is struct f_owner_ex (F_GETOWN_EX/F_SETOWN_EX).
type FOwnerEx struct {
	Type int32
	PID  int32
}

// SizeBytes implements marshal.Marshallable.
func (*FOwnerEx) SizeBytes() int { return 8 }

// MarshalBytes implements marshal.Marshallable.
func (f *FOwnerEx) MarshalBytes(dst []byte) []byte {
	_ = dst[7]
	le.PutUint32(dst[0:], uint32(f.Type))
	le.PutUint32(dst[4:], uint32(f.PID))
	return dst[8:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (f *FOwnerEx) UnmarshalBytes(src []byte) []byte {
	_ = src[7]
	f.Type = int32(le.Uint32(src[0:]))
	f.PID = int32(le.Uint32(src[4:]))
	return src[8:]
}

// Seek whences for lseek(2), including the sparse-file ones.
const (
	SEEK_SET  = 0
	SEEK_CUR  = 1
	SEEK_END  = 2
	SEEK_DATA = 3
	SEEK_HOLE = 4
)

// Modes for fallocate(2).
const (
	FALLOC_FL_KEEP_SIZE      = 0x01
	FALLOC_FL_PUNCH_HOLE     = 0x02
	FALLOC_FL_NO_HIDE_STALE  = 0x04
	FALLOC_FL_COLLAPSE_RANGE = 0x08
	FALLOC_FL_ZERO_RANGE     = 0x10
	FALLOC_FL_INSERT_RANGE   = 0x20
	FALLOC_FL_UNSHARE_RANGE  = 0x40
)

// Access modes for access(2)/faccessat(2).
const (
	F_OK = 0
	X_OK = 1
	W_OK = 2
	R_OK = 4
)

// Advice values for fadvise64(2).
const (
	POSIX_FADV_NORMAL     = 0
	POSIX_FADV_RANDOM     = 1
	POSIX_FADV_SEQUENTIAL = 2
	POSIX_FADV_WILLNEED   = 3
	POSIX_FADV_DONTNEED   = 4
	POSIX_FADV_NOREUSE    = 5
)

// Flags for memfd_create(2).
const (
	MFD_CLOEXEC       = 0x0001
	MFD_ALLOW_SEALING = 0x0002
	MFD_HUGETLB       = 0x0004
	MFD_NOEXEC_SEAL   = 0x0008
	MFD_EXEC          = 0x0010
)

// Flags for eventfd2(2); EFD_SEMAPHORE is the only one not borrowed from
// open(2).
const (
	EFD_SEMAPHORE = 1
	EFD_CLOEXEC   = O_CLOEXEC
	EFD_NONBLOCK  = O_NONBLOCK
)

// Flags for signalfd4(2).
const (
	SFD_CLOEXEC  = O_CLOEXEC
	SFD_NONBLOCK = O_NONBLOCK
)

// Flags for inotify_init1(2).
const (
	IN_CLOEXEC  = O_CLOEXEC
	IN_NONBLOCK = O_NONBLOCK
)

// Flags for splice(2), tee(2) and vmsplice(2).
const (
	SPLICE_F_MOVE     = 1
	SPLICE_F_NONBLOCK = 2
	SPLICE_F_MORE     = 4
	SPLICE_F_GIFT     = 8
)
