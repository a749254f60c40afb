package linux

// Statfs is struct statfs (statfs(2), fstatfs(2)). amd64's own definition
// and asm-generic's (used by arm64) agree on 64-bit targets: every word is
// a long.
type Statfs struct {
	Type       int64
	BlockSize  int64
	Blocks     uint64
	BlocksFree uint64
	// BlocksAvailable is what an unprivileged user may use.
	BlocksAvailable uint64
	Files           uint64
	FilesFree       uint64
	FSID            [2]int32
	NameLength      int64
	FragmentSize    int64
	Flags           int64
	_               [4]int64
}

// SizeofStatfs is sizeof(struct statfs).
const SizeofStatfs = 120

// SizeBytes implements marshal.Marshallable.
func (*Statfs) SizeBytes() int { return SizeofStatfs }

// MarshalBytes implements marshal.Marshallable.
func (s *Statfs) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofStatfs-1]
	le.PutUint64(dst[0:], uint64(s.Type))
	le.PutUint64(dst[8:], uint64(s.BlockSize))
	le.PutUint64(dst[16:], s.Blocks)
	le.PutUint64(dst[24:], s.BlocksFree)
	le.PutUint64(dst[32:], s.BlocksAvailable)
	le.PutUint64(dst[40:], s.Files)
	le.PutUint64(dst[48:], s.FilesFree)
	le.PutUint32(dst[56:], uint32(s.FSID[0]))
	le.PutUint32(dst[60:], uint32(s.FSID[1]))
	le.PutUint64(dst[64:], uint64(s.NameLength))
	le.PutUint64(dst[72:], uint64(s.FragmentSize))
	le.PutUint64(dst[80:], uint64(s.Flags))
	clear(dst[88:120])
	return dst[SizeofStatfs:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *Statfs) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofStatfs-1]
	s.Type = int64(le.Uint64(src[0:]))
	s.BlockSize = int64(le.Uint64(src[8:]))
	s.Blocks = le.Uint64(src[16:])
	s.BlocksFree = le.Uint64(src[24:])
	s.BlocksAvailable = le.Uint64(src[32:])
	s.Files = le.Uint64(src[40:])
	s.FilesFree = le.Uint64(src[48:])
	s.FSID[0] = int32(le.Uint32(src[56:]))
	s.FSID[1] = int32(le.Uint32(src[60:]))
	s.NameLength = int64(le.Uint64(src[64:]))
	s.FragmentSize = int64(le.Uint64(src[72:]))
	s.Flags = int64(le.Uint64(src[80:]))
	return src[SizeofStatfs:]
}

// Bits of Statfs.Flags (ST_* in statvfs(3)), which mirror mount flags.
const (
	ST_RDONLY      = 0x0001
	ST_NOSUID      = 0x0002
	ST_NODEV       = 0x0004
	ST_NOEXEC      = 0x0008
	ST_SYNCHRONOUS = 0x0010
	ST_VALID       = 0x0020
	ST_MANDLOCK    = 0x0040
	ST_NOATIME     = 0x0400
	ST_NODIRATIME  = 0x0800
	ST_RELATIME    = 0x1000
	ST_NOSYMFOLLOW = 0x2000
)

// Filesystem magic numbers for Statfs.Type of the filesystems the Sentry
// implements or passes through; programs (and glibc) test some of them.
const (
	ANON_INODE_FS_MAGIC   = 0x09041934
	DEVPTS_SUPER_MAGIC    = 0x00001cd1
	EXT_SUPER_MAGIC       = 0xef53
	FUSE_SUPER_MAGIC      = 0x65735546
	MQUEUE_MAGIC          = 0x19800202
	NSFS_MAGIC            = 0x6e736673
	OVERLAYFS_SUPER_MAGIC = 0x794c7630
	PIPEFS_MAGIC          = 0x50495045
	PROC_SUPER_MAGIC      = 0x9fa0
	RAMFS_MAGIC           = 0x858458f6
	SOCKFS_MAGIC          = 0x534F434B
	SYSFS_MAGIC           = 0x62656572
	TMPFS_MAGIC           = 0x01021994
	V9FS_MAGIC            = 0x01021997
	CGROUP_SUPER_MAGIC    = 0x27e0eb
	CGROUP2_SUPER_MAGIC   = 0x63677270
)
