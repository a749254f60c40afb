package linux

// Flags for mount(2). The top 16 bits of old binaries' flags held the magic
// MS_MGC_VAL, which the kernel strips.
const (
	MS_RDONLY      = 1
	MS_NOSUID      = 2
	MS_NODEV       = 4
	MS_NOEXEC      = 8
	MS_SYNCHRONOUS = 16
	MS_REMOUNT     = 32
	MS_MANDLOCK    = 64
	MS_DIRSYNC     = 128
	MS_NOSYMFOLLOW = 256
	MS_NOATIME     = 1024
	MS_NODIRATIME  = 2048
	MS_BIND        = 4096
	MS_MOVE        = 8192
	MS_REC         = 16384
	MS_SILENT      = 32768
	MS_POSIXACL    = 1 << 16
	MS_UNBINDABLE  = 1 << 17
	MS_PRIVATE     = 1 << 18
	MS_SLAVE       = 1 << 19
	MS_SHARED      = 1 << 20
	MS_RELATIME    = 1 << 21
	MS_KERNMOUNT   = 1 << 22
	MS_I_VERSION   = 1 << 23
	MS_STRICTATIME = 1 << 24
	MS_LAZYTIME    = 1 << 25

	MS_MGC_VAL = 0xC0ED0000
	MS_MGC_MSK = 0xffff0000

	// MS_RMT_MASK are the flags a remount may change.
	MS_RMT_MASK = MS_RDONLY | MS_SYNCHRONOUS | MS_MANDLOCK | MS_I_VERSION | MS_LAZYTIME
)

// Flags for umount2(2).
const (
	MNT_FORCE       = 0x1
	MNT_DETACH      = 0x2
	MNT_EXPIRE      = 0x4
	UMOUNT_NOFOLLOW = 0x8
)

// Mount attributes of the new mount API (mount_setattr(2), fsmount(2)).
const (
	MOUNT_ATTR_RDONLY      = 0x00000001
	MOUNT_ATTR_NOSUID      = 0x00000002
	MOUNT_ATTR_NODEV       = 0x00000004
	MOUNT_ATTR_NOEXEC      = 0x00000008
	MOUNT_ATTR__ATIME      = 0x00000070
	MOUNT_ATTR_RELATIME    = 0x00000000
	MOUNT_ATTR_NOATIME     = 0x00000010
	MOUNT_ATTR_STRICTATIME = 0x00000020
	MOUNT_ATTR_NODIRATIME  = 0x00000080
	MOUNT_ATTR_IDMAP       = 0x00100000
	MOUNT_ATTR_NOSYMFOLLOW = 0x00200000
)
