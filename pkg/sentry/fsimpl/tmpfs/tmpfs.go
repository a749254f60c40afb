// Package tmpfs is an in-memory filesystem: regular files, directories,
// symlinks, FIFOs, sockets and device nodes that live only in the
// Sentry's memory, with POSIX timestamps, hard links and an optional size
// limit. It backs /tmp, /dev/shm, /dev and any tmpfs the application
// mounts. Regular-file data lives in the sandbox's memory file, so files
// can be mapped, shared mappings included, coherently with read and write.
package tmpfs

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the filesystem type's name.
const Name = "tmpfs"

// FilesystemType makes tmpfs instances; each mount is a new, empty one.
//
// +stateify savable
type FilesystemType struct {
	// MemoryFile holds the instances' file data. It must be the memory
	// file the sandbox's address spaces map, or files cannot be mapped
	// (see Options.MemoryFile).
	MemoryFile *pgalloc.MemoryFile
}

// Name implements vfs.FilesystemType.
func (FilesystemType) Name() string { return Name }

// Options are tmpfs's mount options.
type Options struct {
	// RootMode is the root directory's permissions (mode=, octal).
	RootMode linux.FileMode
	// RootUID and RootGID own the root directory (uid=, gid=).
	RootUID auth.KUID
	RootGID auth.KGID
	// MaxSize caps the bytes of file data, in whole pages; 0 is no
	// limit (size=, with an optional k, m or g suffix).
	MaxSize uint64

	// MemoryFile holds file data; not a mount option. It must be the
	// memory file the sandbox's address spaces map: mmap of files works
	// only then. Nil puts data in a memory file private to tmpfs, shared
	// by all such instances in the process, and mmap fails with ENODEV;
	// that is for tests and callers that never map files.
	MemoryFile *pgalloc.MemoryFile
}

// ParseOptions parses mount(2) data for tmpfs. Unknown options fail with
// EINVAL, as Linux's tmpfs does.
func ParseOptions(data string, creds *auth.Credentials) (Options, error) {
	o := Options{RootMode: 01777, RootUID: creds.FSKUID, RootGID: creds.FSKGID}
	for _, opt := range strings.Split(data, ",") {
		if opt == "" {
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			return o, linux.EINVAL
		}
		switch k {
		case "mode":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil || m&^linux.PermissionsMask != 0 {
				return o, linux.EINVAL
			}
			o.RootMode = linux.FileMode(m)
		case "uid", "gid":
			id, err := strconv.ParseUint(v, 10, 32)
			if err != nil || uint32(id) == auth.NoID {
				return o, linux.EINVAL
			}
			if k == "uid" {
				o.RootUID = creds.UserNamespace.MapToKUID(uint32(id))
			} else {
				o.RootGID = creds.UserNamespace.MapToKGID(uint32(id))
			}
		case "size":
			n, err := parseSize(v)
			if err != nil {
				return o, err
			}
			o.MaxSize = n
		default:
			return o, linux.EINVAL
		}
	}
	return o, nil
}

func parseSize(v string) (uint64, error) {
	mult := uint64(1)
	if v != "" {
		switch v[len(v)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > (1<<63)/mult {
		return 0, linux.EINVAL
	}
	n *= mult
	// Round up to whole pages, as Linux does.
	return (n + linux.PageSize - 1) &^ (linux.PageSize - 1), nil
}

// GetFilesystem implements vfs.FilesystemType.
func (ft FilesystemType) GetFilesystem(ctx context.Context, vfsObj *vfs.VirtualFilesystem, creds *auth.Credentials, source string, opts vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	o, err := ParseOptions(opts.Data, creds)
	if err != nil {
		return nil, nil, err
	}
	o.MemoryFile = ft.MemoryFile
	fs, root := NewFilesystem(vfsObj, o)
	return fs, root, nil
}

// filesystem is one tmpfs instance.
//
// +stateify savable
type filesystem struct {
	vfsfs    *vfs.Filesystem
	devMinor uint32
	nextIno  atomic.Uint64

	// sandboxMF is Options.MemoryFile. mf is the memory file in use:
	// sandboxMF, or the fallback without one (nil only if the fallback
	// could not be made, and then every allocation fails with ENOMEM).
	// The fallback is not saved: a checkpoint saves only the sandbox's
	// memory file, so fileData carries its bytes itself (data.go).
	sandboxMF *pgalloc.MemoryFile
	mf        *pgalloc.MemoryFile // +state:nosave
	// mappable is whether files can be mmapped: only with sandboxMF.
	mappable bool

	// mu guards usedPages.
	mu        sync.Mutex // +state:nosave
	maxPages  uint64
	usedPages uint64
}

// NewFilesystem returns a new tmpfs instance and its root dentry.
func NewFilesystem(vfsObj *vfs.VirtualFilesystem, o Options) (*vfs.Filesystem, *vfs.Dentry) {
	fs := &filesystem{vfsfs: &vfs.Filesystem{}, devMinor: vfsObj.GetAnonBlockDevMinor(), maxPages: o.MaxSize / linux.PageSize,
		sandboxMF: o.MemoryFile, mappable: o.MemoryFile != nil}
	fs.mf = fs.memoryFile()
	fs.vfsfs.Init(vfsObj, FilesystemType{}, fs)
	root := fs.newDirectory(o.RootUID, o.RootGID, o.RootMode, nil)
	return fs.vfsfs, fs.vfsfs.NewRootDentry(root)
}

// fallback is the memory file of instances made without one. It is made
// with the first such instance, at mount time, rather than at the first
// write, so that its host system calls happen early.
var fallback struct {
	once sync.Once
	mf   *pgalloc.MemoryFile
}

func fallbackMemoryFile() *pgalloc.MemoryFile {
	fallback.once.Do(func() {
		mf, err := pgalloc.New(pgalloc.Options{Name: "tmpfs-fallback"})
		if err != nil {
			log.Warningf("tmpfs: no fallback memory file, file data cannot be stored: %v", err)
			return
		}
		fallback.mf = mf
	})
	return fallback.mf
}

// memoryFile returns the memory file the filesystem's data lives in.
func (fs *filesystem) memoryFile() *pgalloc.MemoryFile {
	if fs.sandboxMF != nil {
		return fs.sandboxMF
	}
	return fallbackMemoryFile()
}

func (fs *filesystem) afterLoad() { fs.mf = fs.memoryFile() }

// charge accounts n more pages of file data, failing with ENOSPC past the
// size limit.
func (fs *filesystem) charge(n uint64) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.maxPages != 0 && fs.usedPages+n > fs.maxPages {
		return linux.ENOSPC
	}
	fs.usedPages += n
	return nil
}

func (fs *filesystem) uncharge(n uint64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.usedPages -= n
}

// StatFS implements vfs.FilesystemImpl.
func (fs *filesystem) StatFS(context.Context) (linux.Statfs, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	st := linux.Statfs{
		Type:         linux.TMPFS_MAGIC,
		BlockSize:    linux.PageSize,
		FragmentSize: linux.PageSize,
		NameLength:   linux.NAME_MAX,
		FSID:         [2]int32{int32(fs.devMinor), 0},
	}
	// An unlimited tmpfs reports zero blocks, as Linux's does.
	if fs.maxPages != 0 {
		st.Blocks = fs.maxPages
		st.BlocksFree = fs.maxPages - fs.usedPages
		st.BlocksAvailable = st.BlocksFree
	}
	return st, nil
}

// VirtualFilesystem returns the VFS the instance belongs to.
func (fs *filesystem) VirtualFilesystem() *vfs.VirtualFilesystem { return fs.vfsfs.VirtualFilesystem() }
