// Package devpts is the devpts file system: Unix 98 pseudoterminals.
// Opening its ptmx node creates a pty pair and returns the master; the
// replica appears as the node named by its index until the master is
// closed. Between the two ends sits the terminal line discipline
// (ldisc.go): canonical line editing, echo, signal characters, input and
// output translation, VMIN/VTIME reads and bounded queues. Replicas take
// part in job control through kernel.TTYControl.
//
// As in Linux since 4.7, every mount is an independent instance with its
// own numbering. Options: mode= (replicas, default 0600), ptmxmode=
// (default 0000; container runtimes pass 0666), uid= and gid= (owner of
// new replicas; default the opener's), newinstance (accepted, always
// true), max= (the most pairs).
package devpts

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the file system type's name.
const Name = "devpts"

// Device numbers (Linux's devices.txt).
const (
	// TTYAuxMajor and PtmxMinor are /dev/ptmx (5, 2); TTYMinor is
	// /dev/tty (5, 0).
	TTYAuxMajor = 5
	PtmxMinor   = 2
	TTYMinor    = 0
	// ReplicaMajor is the first major of Unix 98 pty replicas; index N
	// is (ReplicaMajor + N/256, N%256).
	ReplicaMajor = 136
	// maxPtys is Linux's limit on Unix 98 ptys (NR_UNIX98_PTY_MAX).
	maxPtys = 1 << 20
)

// Inode numbers, as Linux's devpts numbers them.
const (
	rootIno = 1
	ptmxIno = 2
	// A replica's inode number is its index plus firstReplicaIno.
	firstReplicaIno = 3
)

// FilesystemType makes devpts instances.
//
// +stateify savable
type FilesystemType struct{}

// Name implements vfs.FilesystemType.
func (FilesystemType) Name() string { return Name }

// options are the mount options.
//
// +stateify savable
type options struct {
	mode, ptmxMode linux.FileMode
	setUID, setGID bool
	uid            auth.KUID
	gid            auth.KGID
	max            int
}

func parseOptions(data string) (options, error) {
	o := options{mode: 0o600, ptmxMode: 0, max: maxPtys}
	for _, opt := range strings.Split(data, ",") {
		if opt == "" || opt == "newinstance" {
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			return o, linux.EINVAL
		}
		base := 10
		if k == "mode" || k == "ptmxmode" {
			base = 8
		}
		n, err := strconv.ParseUint(v, base, 32)
		if err != nil {
			return o, linux.EINVAL
		}
		switch k {
		case "mode":
			o.mode = linux.FileMode(n) & 0o7777
		case "ptmxmode":
			o.ptmxMode = linux.FileMode(n) & 0o7777
		case "uid":
			o.setUID, o.uid = true, auth.KUID(n)
		case "gid":
			o.setGID, o.gid = true, auth.KGID(n)
		case "max":
			o.max = int(min(n, maxPtys))
		default:
			return o, linux.EINVAL
		}
	}
	return o, nil
}

// GetFilesystem implements vfs.FilesystemType.
func (FilesystemType) GetFilesystem(ctx context.Context, vfsObj *vfs.VirtualFilesystem, creds *auth.Credentials, source string, opts vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	o, err := parseOptions(opts.Data)
	if err != nil {
		return nil, nil, err
	}
	fs := &filesystem{opts: o, devMinor: vfsObj.GetAnonBlockDevMinor(), created: time.Now().UnixNano(), ptys: make(map[uint32]*pty)}
	fs.vfsfs.Init(vfsObj, FilesystemType{}, fs)
	fs.root = &rootDir{attrs: attrs{fs: fs, ino: rootIno, mode: linux.S_IFDIR | 0o755}}
	fs.ptmx = &ptmxInode{attrs: attrs{fs: fs, ino: ptmxIno, mode: linux.S_IFCHR | o.ptmxMode, rdevMajor: TTYAuxMajor, rdevMinor: PtmxMinor}}
	return &fs.vfsfs, fs.vfsfs.NewRootDentry(fs.root), nil
}

// filesystem is one devpts instance.
//
// +stateify savable
type filesystem struct {
	vfsfs    vfs.Filesystem
	opts     options
	devMinor uint32
	created  int64
	root     *rootDir
	ptmx     *ptmxInode

	// mu guards ptys.
	mu sync.Mutex `state:"nosave"`
	// ptys are the live pairs by index: a replica is visible from the
	// master's creation until its release.
	ptys map[uint32]*pty
}

// StatFS implements vfs.FilesystemImpl.
func (fs *filesystem) StatFS(context.Context) (linux.Statfs, error) {
	return linux.Statfs{
		Type:       linux.DEVPTS_SUPER_MAGIC,
		BlockSize:  linux.PageSize,
		NameLength: linux.NAME_MAX,
		FSID:       [2]int32{int32(fs.devMinor), 0},
	}, nil
}

// newPty allocates the lowest free index for a new pair whose replica
// node is owned by creds (or the mount's uid=/gid=).
func (fs *filesystem) newPty(creds *auth.Credentials) (*pty, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.ptys) >= fs.opts.max {
		return nil, linux.ENOSPC
	}
	var idx uint32
	for {
		if _, used := fs.ptys[idx]; !used {
			break
		}
		idx++
	}
	uid, gid := creds.FSKUID, creds.FSKGID
	if fs.opts.setUID {
		uid = fs.opts.uid
	}
	if fs.opts.setGID {
		gid = fs.opts.gid
	}
	p := newPty(fs, idx)
	p.replica = &replicaInode{attrs: attrs{fs: fs, ino: uint64(idx) + firstReplicaIno, mode: linux.S_IFCHR | fs.opts.mode, uid: uid, gid: gid, rdevMajor: ReplicaMajor + idx>>8, rdevMinor: idx & 0xff}, pty: p}
	p.tc.Init(p.replica, false)
	fs.ptys[idx] = p
	return p, nil
}

// removePty makes a pair's replica node disappear (its master closed).
func (fs *filesystem) removePty(p *pty) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.ptys[p.index] == p {
		delete(fs.ptys, p.index)
	}
}

func (fs *filesystem) lookupPty(name string) *pty {
	if name == "" || (len(name) > 1 && name[0] == '0') {
		return nil
	}
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.ptys[uint32(n)]
}

// attrs are an inode's attributes.
//
// +stateify savable
type attrs struct {
	fs  *filesystem
	ino uint64
	// mu guards mode, uid and gid.
	mu   sync.Mutex `state:"nosave"`
	mode linux.FileMode
	uid  auth.KUID
	gid  auth.KGID
	// rdev is a device node's number.
	rdevMajor, rdevMinor uint32
}

// Type implements vfs.Inode.
func (a *attrs) Type() linux.FileMode { return a.mode.FileType() }

func (a *attrs) fileAttr() vfs.FileAttr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return vfs.FileAttr{Mode: a.mode, UID: a.uid, GID: a.gid}
}

// CheckPermission implements vfs.Inode.
func (a *attrs) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	fa := a.fileAttr()
	return auth.CheckPermission(creds, fa.Mode, fa.UID, fa.GID, ats)
}

// Stat implements vfs.Inode.
func (a *attrs) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	fa := a.fileAttr()
	ts := linux.StatxTimestamp{Sec: a.fs.created / 1e9, Nsec: uint32(a.fs.created % 1e9)}
	nlink := uint32(1)
	if fa.Mode.IsDir() {
		nlink = 2
	}
	return linux.Statx{
		Mask:      linux.STATX_BASIC_STATS,
		Blksize:   1024,
		Nlink:     nlink,
		UID:       uint32(fa.UID),
		GID:       uint32(fa.GID),
		Mode:      uint16(fa.Mode),
		Ino:       a.ino,
		Atime:     ts,
		Mtime:     ts,
		Ctime:     ts,
		RdevMajor: a.rdevMajor,
		RdevMinor: a.rdevMinor,
		DevMinor:  a.fs.devMinor,
	}, nil
}

// SetStat implements vfs.Inode: mode and owner can change (as devpts
// allows with simple_setattr); times are not kept.
func (a *attrs) SetStat(_ context.Context, creds *auth.Credentials, opts vfs.SetStatOptions) error {
	if opts.Mask&linux.STATX_SIZE != 0 {
		if a.Type() == linux.S_IFDIR {
			return linux.EISDIR
		}
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := vfs.PrepareSetStat(creds, &opts, vfs.FileAttr{Mode: a.mode, UID: a.uid, GID: a.gid}); err != nil {
		return err
	}
	if opts.Mask&linux.STATX_MODE != 0 {
		a.mode = a.mode.FileType() | linux.FileMode(opts.Mode)&0o7777
	}
	if opts.Mask&linux.STATX_UID != 0 {
		a.uid = opts.UID
	}
	if opts.Mask&linux.STATX_GID != 0 {
		a.gid = opts.GID
	}
	return nil
}

// rootDir is the instance's root directory: ptmx and the replicas.
//
// +stateify savable
type rootDir struct {
	attrs
}

// Lookup implements vfs.DirectoryInode.
func (d *rootDir) Lookup(_ context.Context, name string) (vfs.Inode, error) {
	if name == "ptmx" {
		return d.fs.ptmx, nil
	}
	if p := d.fs.lookupPty(name); p != nil {
		return p.replica, nil
	}
	return nil, linux.ENOENT
}

// Revalidate implements vfs.DentryRevalidator: replicas go when their
// master is closed, and an index may be reused by a new pair.
func (d *rootDir) Revalidate(_ context.Context, name string, child vfs.Inode) bool {
	if name == "ptmx" {
		return true
	}
	p := d.fs.lookupPty(name)
	return p != nil && p.replica == child
}

// Create implements vfs.DirectoryInode.
func (d *rootDir) Create(context.Context, *auth.Credentials, string, vfs.CreateOptions) (vfs.Inode, error) {
	return nil, linux.EPERM
}

// Link implements vfs.DirectoryInode.
func (d *rootDir) Link(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Unlink implements vfs.DirectoryInode.
func (d *rootDir) Unlink(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Rmdir implements vfs.DirectoryInode.
func (d *rootDir) Rmdir(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Rename implements vfs.DirectoryInode.
func (d *rootDir) Rename(context.Context, string, vfs.Inode, vfs.DirectoryInode, string, vfs.Inode, uint32) error {
	return linux.EPERM
}

// IterDirents implements vfs.DirectoryInode. A replica's offset is its
// inode number, so listing survives pairs coming and going.
func (d *rootDir) IterDirents(_ context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	ents := []vfs.Dirent{
		{Name: ".", Type: linux.DT_DIR, Ino: rootIno, NextOff: 1},
		{Name: "..", Type: linux.DT_DIR, Ino: rootIno, NextOff: 2},
		{Name: "ptmx", Type: linux.DT_CHR, Ino: ptmxIno, NextOff: firstReplicaIno},
	}
	d.fs.mu.Lock()
	idxs := make([]uint32, 0, len(d.fs.ptys))
	for i := range d.fs.ptys {
		idxs = append(idxs, i)
	}
	d.fs.mu.Unlock()
	sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
	for _, i := range idxs {
		ino := int64(i) + firstReplicaIno
		ents = append(ents, vfs.Dirent{Name: strconv.Itoa(int(i)), Type: linux.DT_CHR, Ino: uint64(ino), NextOff: ino + 1})
	}
	var off int64
	for _, e := range ents {
		if off >= offset {
			if err := cb(e); err != nil {
				return err
			}
		}
		off = e.NextOff
	}
	return nil
}

// Open implements vfs.Inode.
func (d *rootDir) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	fd := &dirFD{dir: d}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// dirFD is the open root directory.
//
// +stateify savable
type dirFD struct {
	vfs.DirectoryFileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	dir   *rootDir
}

// IterDirents implements vfs.FileDescriptionImpl.
func (fd *dirFD) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	return fd.dir.IterDirents(ctx, offset, cb)
}

// Seek implements vfs.Seeker.
func (fd *dirFD) Seek(_ context.Context, offset int64, whence int32, cur int64) (int64, error) {
	switch whence {
	case linux.SEEK_SET:
	case linux.SEEK_CUR:
		offset += cur
	default:
		return 0, linux.EINVAL
	}
	if offset < 0 {
		return 0, linux.EINVAL
	}
	return offset, nil
}
