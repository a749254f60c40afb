package lisafs

import "fmt"

// MsgType names an operation. Values are part of the wire format: append,
// never renumber.
type MsgType uint16

// The operations.
const (
	MsgMount MsgType = iota + 1
	MsgWalk
	MsgWalkStat
	MsgStat
	MsgOpen
	MsgOpenCreate
	MsgMkdir
	MsgSymlink
	MsgLink
	MsgMknod
	MsgUnlink
	MsgRename
	MsgReadlink
	MsgGetdents64
	MsgSetStat
	MsgStatFS
	MsgFsync
	MsgClose
	MsgFlush
	msgEnd
)

var msgNames = [...]string{
	MsgMount: "Mount", MsgWalk: "Walk", MsgWalkStat: "WalkStat", MsgStat: "Stat",
	MsgOpen: "Open", MsgOpenCreate: "OpenCreate", MsgMkdir: "Mkdir",
	MsgSymlink: "Symlink", MsgLink: "Link", MsgMknod: "Mknod", MsgUnlink: "Unlink",
	MsgRename: "Rename", MsgReadlink: "Readlink", MsgGetdents64: "Getdents64",
	MsgSetStat: "SetStat", MsgStatFS: "StatFS", MsgFsync: "Fsync", MsgClose: "Close",
	MsgFlush: "Flush",
}

func (t MsgType) String() string {
	if t > 0 && t < msgEnd {
		return msgNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint16(t))
}

// FDID names a handle on the server, scoped to one connection. Zero is
// never a valid handle.
type FDID uint64

// message is a request or reply body.
type message interface {
	encode(*encoder)
	decode(*decoder)
}

// Empty is the body of requests and replies that carry nothing.
type Empty struct{}

func (*Empty) encode(*encoder) {}
func (*Empty) decode(*decoder) {}

// Inode is a new node handle and what the file looked like when the
// handle was made.
type Inode struct {
	FD   FDID
	Stat Stat
}

const inodeWireSize = 8 + statWireSize

func (i *Inode) encode(e *encoder) { e.u64(uint64(i.FD)); i.Stat.encode(e) }
func (i *Inode) decode(d *decoder) { i.FD = FDID(d.u64()); i.Stat.decode(d) }

func encodeNames(e *encoder, names []string) {
	e.u16(uint16(len(names)))
	for _, n := range names {
		e.str(n)
	}
}

func decodeNames(d *decoder) []string {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	names := make([]string, n)
	for i := range names {
		names[i] = d.str()
	}
	return names
}

func encodeFDs(e *encoder, fds []FDID) {
	e.u16(uint16(len(fds)))
	for _, fd := range fds {
		e.u64(uint64(fd))
	}
}

func decodeFDs(d *decoder) []FDID {
	n := d.count(8)
	if n == 0 {
		return nil
	}
	fds := make([]FDID, n)
	for i := range fds {
		fds[i] = FDID(d.u64())
	}
	return fds
}

// MountReq attaches to one export. Export names what the server was told
// to serve: "/" is the container's root filesystem, other names are the
// container paths of its bind mounts.
type MountReq struct {
	Export string
}

func (m *MountReq) encode(e *encoder) { e.str(m.Export) }
func (m *MountReq) decode(d *decoder) { m.Export = d.str() }

// MountResp is the export's root: a directory, or for a file bind mount
// the file itself (Root.Stat says which), below which nothing can be
// walked.
type MountResp struct {
	Root     Inode
	ReadOnly bool
}

func (m *MountResp) encode(e *encoder) {
	m.Root.encode(e)
	if m.ReadOnly {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (m *MountResp) decode(d *decoder) { m.Root.decode(d); m.ReadOnly = d.u8() != 0 }

// WalkStatus says how far a walk got.
type WalkStatus uint8

// Walk outcomes. Every walked component up to the stop has a result.
const (
	// WalkComplete: every name was walked. The last result may be a
	// symlink; the client decides whether to follow it.
	WalkComplete WalkStatus = iota
	// WalkSymlink: the last result is a symlink and names remain after
	// it; the client resolves the link and walks on.
	WalkSymlink
	// WalkNotFound: the name after the last result does not exist.
	WalkNotFound
	// WalkError: the name after the last result could not be walked;
	// Errno says why (ENOTDIR, EACCES, ...).
	WalkError
)

// WalkReq walks Names one component at a time from the directory Dir.
type WalkReq struct {
	Dir   FDID
	Names []string
}

func (m *WalkReq) encode(e *encoder) { e.u64(uint64(m.Dir)); encodeNames(e, m.Names) }
func (m *WalkReq) decode(d *decoder) { m.Dir = FDID(d.u64()); m.Names = decodeNames(d) }

// WalkResp holds one new node handle per walked component.
type WalkResp struct {
	Status WalkStatus
	Errno  uint16
	Inodes []Inode
}

func (m *WalkResp) encode(e *encoder) {
	e.u8(uint8(m.Status))
	e.u16(m.Errno)
	e.u16(uint16(len(m.Inodes)))
	for i := range m.Inodes {
		m.Inodes[i].encode(e)
	}
}

func (m *WalkResp) decode(d *decoder) {
	m.Status = WalkStatus(d.u8())
	m.Errno = d.u16()
	n := d.count(inodeWireSize)
	m.Inodes = make([]Inode, n)
	for i := range m.Inodes {
		m.Inodes[i].decode(d)
	}
}

// WalkStatReq is a walk that makes no handles. With no names it stats Dir
// itself.
type WalkStatReq = WalkReq

// WalkStatResp holds the stat of each walked component.
type WalkStatResp struct {
	Status WalkStatus
	Errno  uint16
	Stats  []Stat
}

func (m *WalkStatResp) encode(e *encoder) {
	e.u8(uint8(m.Status))
	e.u16(m.Errno)
	e.u16(uint16(len(m.Stats)))
	for i := range m.Stats {
		m.Stats[i].encode(e)
	}
}

func (m *WalkStatResp) decode(d *decoder) {
	m.Status = WalkStatus(d.u8())
	m.Errno = d.u16()
	n := d.count(statWireSize)
	m.Stats = make([]Stat, n)
	for i := range m.Stats {
		m.Stats[i].decode(d)
	}
}

// FDReq names one handle: Stat, Readlink, StatFS, Flush.
type FDReq struct {
	FD FDID
}

func (m *FDReq) encode(e *encoder) { e.u64(uint64(m.FD)) }
func (m *FDReq) decode(d *decoder) { m.FD = FDID(d.u64()) }

// StatResp is the reply to Stat.
type StatResp struct {
	Stat Stat
}

func (m *StatResp) encode(e *encoder) { m.Stat.encode(e) }
func (m *StatResp) decode(d *decoder) { m.Stat.decode(d) }

// OpenReq opens the file a node handle pins. Flags are open(2) flags;
// O_CREAT, O_EXCL, O_PATH and O_TMPFILE are refused (use OpenCreate).
type OpenReq struct {
	FD    FDID
	Flags uint32
}

func (m *OpenReq) encode(e *encoder) { e.u64(uint64(m.FD)); e.u32(m.Flags) }
func (m *OpenReq) decode(d *decoder) { m.FD = FDID(d.u64()); m.Flags = d.u32() }

// OpenResp names the open handle; the host descriptor of the same open
// file description arrives with it.
type OpenResp struct {
	FD FDID
}

func (m *OpenResp) encode(e *encoder) { e.u64(uint64(m.FD)) }
func (m *OpenResp) decode(d *decoder) { m.FD = FDID(d.u64()) }

// OpenCreateReq creates the regular file Name in Dir (O_EXCL) and opens
// it with Flags. UID and GID give the owner; NoID keeps the server's.
type OpenCreateReq struct {
	Dir   FDID
	Name  string
	Flags uint32
	Mode  uint32
	UID   uint32
	GID   uint32
}

func (m *OpenCreateReq) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.str(m.Name)
	e.u32(m.Flags)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *OpenCreateReq) decode(d *decoder) {
	m.Dir = FDID(d.u64())
	m.Name = d.str()
	m.Flags = d.u32()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
}

// OpenCreateResp is the new file's node handle and its open handle; the
// host descriptor arrives with it.
type OpenCreateResp struct {
	Node Inode
	FD   FDID
}

func (m *OpenCreateResp) encode(e *encoder) { m.Node.encode(e); e.u64(uint64(m.FD)) }
func (m *OpenCreateResp) decode(d *decoder) { m.Node.decode(d); m.FD = FDID(d.u64()) }

// MkdirReq creates a directory; MknodReq creates a regular file, FIFO or
// socket (Mode carries the type). UID and GID give the owner.
type MkdirReq struct {
	Dir  FDID
	Name string
	Mode uint32
	UID  uint32
	GID  uint32
}

func (m *MkdirReq) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.str(m.Name)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *MkdirReq) decode(d *decoder) {
	m.Dir = FDID(d.u64())
	m.Name = d.str()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
}

// MknodReq has the shape of MkdirReq.
type MknodReq = MkdirReq

// SymlinkReq creates the symlink Name in Dir pointing at Target.
type SymlinkReq struct {
	Dir    FDID
	Name   string
	Target string
	UID    uint32
	GID    uint32
}

func (m *SymlinkReq) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.str(m.Name)
	e.str(m.Target)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *SymlinkReq) decode(d *decoder) {
	m.Dir = FDID(d.u64())
	m.Name = d.str()
	m.Target = d.str()
	m.UID = d.u32()
	m.GID = d.u32()
}

// LinkReq makes Name in Dir a hard link to the file Target pins.
type LinkReq struct {
	Dir    FDID
	Name   string
	Target FDID
}

func (m *LinkReq) encode(e *encoder) { e.u64(uint64(m.Dir)); e.str(m.Name); e.u64(uint64(m.Target)) }
func (m *LinkReq) decode(d *decoder) {
	m.Dir = FDID(d.u64())
	m.Name = d.str()
	m.Target = FDID(d.u64())
}

// InodeResp is the new node of Mkdir, Mknod, Symlink and Link.
type InodeResp struct {
	Inode Inode
}

func (m *InodeResp) encode(e *encoder) { m.Inode.encode(e) }
func (m *InodeResp) decode(d *decoder) { m.Inode.decode(d) }

// UnlinkReq removes Name from Dir; Flags may hold AT_REMOVEDIR.
type UnlinkReq struct {
	Dir   FDID
	Name  string
	Flags uint32
}

func (m *UnlinkReq) encode(e *encoder) { e.u64(uint64(m.Dir)); e.str(m.Name); e.u32(m.Flags) }
func (m *UnlinkReq) decode(d *decoder) { m.Dir = FDID(d.u64()); m.Name = d.str(); m.Flags = d.u32() }

// RenameReq is renameat2(2); Flags may hold RENAME_NOREPLACE or
// RENAME_EXCHANGE.
type RenameReq struct {
	OldDir  FDID
	OldName string
	NewDir  FDID
	NewName string
	Flags   uint32
}

func (m *RenameReq) encode(e *encoder) {
	e.u64(uint64(m.OldDir))
	e.str(m.OldName)
	e.u64(uint64(m.NewDir))
	e.str(m.NewName)
	e.u32(m.Flags)
}

func (m *RenameReq) decode(d *decoder) {
	m.OldDir = FDID(d.u64())
	m.OldName = d.str()
	m.NewDir = FDID(d.u64())
	m.NewName = d.str()
	m.Flags = d.u32()
}

// ReadlinkResp is a symlink's target.
type ReadlinkResp struct {
	Target string
}

func (m *ReadlinkResp) encode(e *encoder) { e.str(m.Target) }
func (m *ReadlinkResp) decode(d *decoder) { m.Target = d.str() }

// Getdents64Req reads the directory FD from Cookie (0 for the start, else
// the Off of the last entry seen), returning at most about Count bytes of
// entries. "." and ".." are never returned: the Sentry makes its own.
type Getdents64Req struct {
	FD     FDID
	Cookie uint64
	Count  uint32
}

func (m *Getdents64Req) encode(e *encoder) { e.u64(uint64(m.FD)); e.u64(m.Cookie); e.u32(m.Count) }
func (m *Getdents64Req) decode(d *decoder) {
	m.FD = FDID(d.u64())
	m.Cookie = d.u64()
	m.Count = d.u32()
}

// Getdents64Resp holds the next entries; none means the end.
type Getdents64Resp struct {
	Dirents []Dirent
}

func (m *Getdents64Resp) encode(e *encoder) {
	e.u16(uint16(len(m.Dirents)))
	for i := range m.Dirents {
		m.Dirents[i].encode(e)
	}
}

func (m *Getdents64Resp) decode(d *decoder) {
	n := d.count(direntMinWireSize)
	m.Dirents = make([]Dirent, n)
	for i := range m.Dirents {
		m.Dirents[i].decode(d)
	}
}

// SetStatReq changes the attributes Mask selects (SetStat* bits), in the
// order size, mode, owner, times; it stops at the first failure.
type SetStatReq struct {
	FD    FDID
	Mask  uint32
	Mode  uint32
	UID   uint32
	GID   uint32
	Size  uint64
	Atime Timestamp
	Mtime Timestamp
}

func (m *SetStatReq) encode(e *encoder) {
	e.u64(uint64(m.FD))
	e.u32(m.Mask)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
	e.u64(m.Size)
	m.Atime.encode(e)
	m.Mtime.encode(e)
}

func (m *SetStatReq) decode(d *decoder) {
	m.FD = FDID(d.u64())
	m.Mask = d.u32()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
	m.Size = d.u64()
	m.Atime.decode(d)
	m.Mtime.decode(d)
}

// StatFSResp is the reply to StatFS.
type StatFSResp struct {
	StatFS StatFS
}

func (m *StatFSResp) encode(e *encoder) { m.StatFS.encode(e) }
func (m *StatFSResp) decode(d *decoder) { m.StatFS.decode(d) }

// FDsReq names a batch of handles: Close and Fsync.
type FDsReq struct {
	FDs []FDID
}

func (m *FDsReq) encode(e *encoder) { encodeFDs(e, m.FDs) }
func (m *FDsReq) decode(d *decoder) { m.FDs = decodeFDs(d) }
