package linux

// File type and permission bits of st_mode.
const (
	S_IFMT   = 0170000
	S_IFSOCK = 0140000
	S_IFLNK  = 0120000
	S_IFREG  = 0100000
	S_IFBLK  = 0060000
	S_IFDIR  = 0040000
	S_IFCHR  = 0020000
	S_IFIFO  = 0010000

	S_ISUID = 04000
	S_ISGID = 02000
	S_ISVTX = 01000

	S_IRWXU = 00700
	S_IRUSR = 00400
	S_IWUSR = 00200
	S_IXUSR = 00100
	S_IRWXG = 00070
	S_IRGRP = 00040
	S_IWGRP = 00020
	S_IXGRP = 00010
	S_IRWXO = 00007
	S_IROTH = 00004
	S_IWOTH = 00002
	S_IXOTH = 00001

	// PermissionsMask is what chmod(2) can change.
	PermissionsMask = 07777
)

// FileMode is an st_mode value: type bits plus permission bits.
type FileMode uint16

// FileType returns the S_IF* bits.
func (m FileMode) FileType() FileMode { return m & S_IFMT }

// Permissions returns the bits chmod(2) controls.
func (m FileMode) Permissions() FileMode { return m & PermissionsMask }

// IsDir reports S_ISDIR.
func (m FileMode) IsDir() bool { return m.FileType() == S_IFDIR }

// IsRegular reports S_ISREG.
func (m FileMode) IsRegular() bool { return m.FileType() == S_IFREG }

// IsSymlink reports S_ISLNK.
func (m FileMode) IsSymlink() bool { return m.FileType() == S_IFLNK }

// Dirent d_type values, which are the S_IF* type bits shifted down by 12.
const (
	DT_UNKNOWN = 0
	DT_FIFO    = 1
	DT_CHR     = 2
	DT_DIR     = 4
	DT_BLK     = 6
	DT_REG     = 8
	DT_LNK     = 10
	DT_SOCK    = 12
	DT_WHT     = 14
)

// DirentType converts a mode's file type to a d_type value.
func (m FileMode) DirentType() uint8 { return uint8(m.FileType() >> 12) }

// MakeDeviceID packs major and minor the way st_dev/st_rdev carry them
// (glibc's makedev layout). The low byte of the minor stays in bits 0..7
// and the major in bits 8..19 so that old 16-bit device numbers keep their
// meaning; the kernel's 32-bit encoding is the same for majors below 4096.
func MakeDeviceID(major, minor uint32) uint64 {
	return uint64(minor&0xff) | uint64(major&0xfff)<<8 | uint64(minor&^0xff)<<12 |
		uint64(major&^0xfff)<<32
}

// DecodeDeviceID is the inverse of MakeDeviceID.
func DecodeDeviceID(dev uint64) (major, minor uint32) {
	major = uint32((dev>>8)&0xfff) | uint32((dev>>32)&^0xfff)
	minor = uint32(dev&0xff) | uint32((dev>>12)&^0xff)
	return major, minor
}
