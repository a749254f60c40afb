package lisafs

import "appkernel.dev/appkernel/pkg/abi/linux"

// Timestamp is a point in time as statx reports it.
type Timestamp struct {
	Sec  int64
	Nsec uint32
}

func (t *Timestamp) encode(e *encoder) { e.i64(t.Sec); e.u32(t.Nsec) }
func (t *Timestamp) decode(d *decoder) { t.Sec = d.i64(); t.Nsec = d.u32() }

// Stat is the statx subset the Sentry needs about a file. Mask holds
// linux.STATX_* bits saying which fields the host filled.
type Stat struct {
	Mask      uint32
	Mode      uint32 // file type and permission bits (S_IFMT | 07777)
	Nlink     uint32
	UID       uint32
	GID       uint32
	Blksize   uint32
	Ino       uint64
	Size      uint64
	Blocks    uint64 // in 512-byte units
	Atime     Timestamp
	Mtime     Timestamp
	Ctime     Timestamp
	Btime     Timestamp
	DevMajor  uint32
	DevMinor  uint32
	RdevMajor uint32
	RdevMinor uint32
}

// statWireSize is the encoded size of a Stat.
const statWireSize = 6*4 + 3*8 + 4*12 + 4*4

func (s *Stat) encode(e *encoder) {
	e.u32(s.Mask)
	e.u32(s.Mode)
	e.u32(s.Nlink)
	e.u32(s.UID)
	e.u32(s.GID)
	e.u32(s.Blksize)
	e.u64(s.Ino)
	e.u64(s.Size)
	e.u64(s.Blocks)
	s.Atime.encode(e)
	s.Mtime.encode(e)
	s.Ctime.encode(e)
	s.Btime.encode(e)
	e.u32(s.DevMajor)
	e.u32(s.DevMinor)
	e.u32(s.RdevMajor)
	e.u32(s.RdevMinor)
}

func (s *Stat) decode(d *decoder) {
	s.Mask = d.u32()
	s.Mode = d.u32()
	s.Nlink = d.u32()
	s.UID = d.u32()
	s.GID = d.u32()
	s.Blksize = d.u32()
	s.Ino = d.u64()
	s.Size = d.u64()
	s.Blocks = d.u64()
	s.Atime.decode(d)
	s.Mtime.decode(d)
	s.Ctime.decode(d)
	s.Btime.decode(d)
	s.DevMajor = d.u32()
	s.DevMinor = d.u32()
	s.RdevMajor = d.u32()
	s.RdevMinor = d.u32()
}

// FileType returns the S_IFMT bits of Mode.
func (s *Stat) FileType() uint32 { return s.Mode & linux.S_IFMT }

// IsDir reports whether the file is a directory.
func (s *Stat) IsDir() bool { return s.FileType() == linux.S_IFDIR }

// IsSymlink reports whether the file is a symbolic link.
func (s *Stat) IsSymlink() bool { return s.FileType() == linux.S_IFLNK }

// Statx converts s to the statx(2) structure the Sentry returns to
// applications.
func (s *Stat) Statx() linux.Statx {
	ts := func(t Timestamp) linux.StatxTimestamp { return linux.StatxTimestamp{Sec: t.Sec, Nsec: t.Nsec} }
	return linux.Statx{
		Mask:      s.Mask,
		Blksize:   s.Blksize,
		Nlink:     s.Nlink,
		UID:       s.UID,
		GID:       s.GID,
		Mode:      uint16(s.Mode),
		Ino:       s.Ino,
		Size:      s.Size,
		Blocks:    s.Blocks,
		Atime:     ts(s.Atime),
		Btime:     ts(s.Btime),
		Ctime:     ts(s.Ctime),
		Mtime:     ts(s.Mtime),
		RdevMajor: s.RdevMajor,
		RdevMinor: s.RdevMinor,
		DevMajor:  s.DevMajor,
		DevMinor:  s.DevMinor,
	}
}

// StatFS is what statfs(2) reports about the filesystem holding a file.
type StatFS struct {
	Type            uint64
	BlockSize       int64
	Blocks          uint64
	BlocksFree      uint64
	BlocksAvailable uint64
	Files           uint64
	FilesFree       uint64
	NameLength      uint64
	FragmentSize    int64
	Flags           uint64
}

func (s *StatFS) encode(e *encoder) {
	e.u64(s.Type)
	e.i64(s.BlockSize)
	e.u64(s.Blocks)
	e.u64(s.BlocksFree)
	e.u64(s.BlocksAvailable)
	e.u64(s.Files)
	e.u64(s.FilesFree)
	e.u64(s.NameLength)
	e.i64(s.FragmentSize)
	e.u64(s.Flags)
}

func (s *StatFS) decode(d *decoder) {
	s.Type = d.u64()
	s.BlockSize = d.i64()
	s.Blocks = d.u64()
	s.BlocksFree = d.u64()
	s.BlocksAvailable = d.u64()
	s.Files = d.u64()
	s.FilesFree = d.u64()
	s.NameLength = d.u64()
	s.FragmentSize = d.i64()
	s.Flags = d.u64()
}

// Dirent is one directory entry. Off is the cookie that resumes reading
// after this entry.
type Dirent struct {
	Ino  uint64
	Off  uint64
	Type uint8 // DT_* value
	Name string
}

// direntMinWireSize is the encoded size of a Dirent with an empty name.
const direntMinWireSize = 8 + 8 + 1 + 2

func (de *Dirent) encode(e *encoder) { e.u64(de.Ino); e.u64(de.Off); e.u8(de.Type); e.str(de.Name) }
func (de *Dirent) decode(d *decoder) {
	de.Ino = d.u64()
	de.Off = d.u64()
	de.Type = d.u8()
	de.Name = d.str()
}

// Bits of SetStatRequest.Mask: which attributes to change.
const (
	SetStatMode  = 1 << 0
	SetStatUID   = 1 << 1
	SetStatGID   = 1 << 2
	SetStatSize  = 1 << 3
	SetStatAtime = 1 << 4
	SetStatMtime = 1 << 5
)

// Nsec values of a SetStat timestamp with utimensat(2)'s meaning.
const (
	UtimeNow  = linux.UTIME_NOW
	UtimeOmit = linux.UTIME_OMIT
)

// NoID in a create request's UID or GID leaves the owner the server's.
const NoID = ^uint32(0)
