package tmpfs

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// memfd_create(2) files are tmpfs regular files that no directory holds,
// in one internal tmpfs instance per VFS (Linux uses its internal shm
// mount). They are unlinked from birth: st_nlink is 0, /proc/self/fd
// shows "/memfd:NAME (deleted)", and the data goes with the last close
// or mapping.

// MemfdNameMax is the longest name memfd_create accepts: NAME_MAX less
// the "memfd:" prefix.
const MemfdNameMax = linux.NAME_MAX - len("memfd:")

var memfdMounts struct {
	mu sync.Mutex
	// byVFS holds each VFS's internal instance, made on first use.
	byVFS map[*vfs.VirtualFilesystem]*vfs.Mount
}

func memfdMount(vfsObj *vfs.VirtualFilesystem, mf *pgalloc.MemoryFile) *vfs.Mount {
	memfdMounts.mu.Lock()
	defer memfdMounts.mu.Unlock()
	if m, ok := memfdMounts.byVFS[vfsObj]; ok {
		return m
	}
	fs, root := NewFilesystem(vfsObj, Options{RootMode: 01777, MemoryFile: mf})
	m := vfsObj.NewDisconnectedMount(fs, root, 0)
	if memfdMounts.byVFS == nil {
		memfdMounts.byVFS = make(map[*vfs.VirtualFilesystem]*vfs.Mount)
	}
	memfdMounts.byVFS[vfsObj] = m
	return m
}

// NewMemfd implements memfd_create(2) once the caller has checked flags
// and name: a new, empty, read-write file whose data lives in mf (the
// sandbox's memory file, so it can be mapped). flags are the MFD_* bits;
// MFD_CLOEXEC is the caller's.
func NewMemfd(ctx context.Context, vfsObj *vfs.VirtualFilesystem, mf *pgalloc.MemoryFile, creds *auth.Credentials, name string, flags uint32) (*vfs.FileDescription, error) {
	mnt := memfdMount(vfsObj, mf)
	fs := mnt.Root().Filesystem().Impl().(*filesystem)
	// Linux gives memfds mode 0777, without the umask; MFD_NOEXEC_SEAL
	// takes the execute bits away and seals them so.
	perm := linux.FileMode(0777)
	seals := uint32(linux.F_SEAL_SEAL)
	if flags&linux.MFD_ALLOW_SEALING != 0 {
		seals = 0
	}
	if flags&linux.MFD_NOEXEC_SEAL != 0 {
		perm = 0666
		seals = linux.F_SEAL_EXEC
	}
	f := fs.newRegularFile(creds.FSKUID, creds.FSKGID, perm)
	f.nlink = 0
	f.seals = seals
	d := fs.vfsfs.NewDisconnectedDentry(f, "/memfd:"+name+" (deleted)")
	fd, err := f.Open(ctx, vfs.MakeVirtualDentry(mnt, d), vfs.OpenOptions{Flags: linux.O_RDWR | linux.O_LARGEFILE})
	if err != nil {
		return nil, err
	}
	return fd, nil
}
