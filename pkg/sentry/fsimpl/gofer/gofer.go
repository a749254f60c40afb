// Package gofer is the filesystem of files that live on the host: the
// container's root filesystem and its bind mounts, reached through the
// gofer process over lisafs. The Sentry never opens a host path itself;
// each inode here pins a lisafs node handle, and regular files are read
// and written through host descriptors the gofer donates, so data I/O is
// a host pread/pwrite with no gofer round trip.
//
// # Cache policy
//
// The sandbox is assumed to be the only writer of the files it is given
// (true of a container's rootfs in the common case). So the VFS keeps
// every dentry it looks up, this package keeps every inode's attributes,
// symlink targets and a negative-lookup cache per directory, and nothing
// is revalidated against the host: a change made on the host behind the
// sandbox's back is seen only for names not yet looked up, and for file
// contents (which are always read from the host). Attributes that the
// sandbox's own operations change in ways not worth computing here
// (ctime, a directory's mtime and link count after a create) are marked
// stale and fetched again on the next stat. A revalidating policy would
// implement vfs.DentryRevalidator on directories and refetch attributes on
// stat; the hooks are in place but the policy is not. The one exception
// is the root of a file bind mount, which the engine rewrites on the
// host (see file_root.go).
//
// # Identity
//
// One host file is one inode, whatever name reached it: inodes are
// indexed by (host device, host inode number), weakly, so hard links share
// attributes, host handles and cached pages, and an inode no dentry or
// open file uses any more is collected, its node handle closed.
//
// # Special files
//
// Device nodes open the Sentry's own driver for their number, through the
// VFS device registry, never the host device. FIFOs are Sentry pipes, one
// per inode. Socket files cannot be opened (ENXIO).
//
// # Host system calls
//
// For the Sentry's seccomp filter: pread64, pwrite64, fsync, fdatasync,
// fallocate, statx (on donated descriptors, AT_EMPTY_PATH), close, and
// those of pkg/lisafs's client (sendmsg, recvmsg).
package gofer

import (
	"context"
	"os"
	"strconv"
	"strings"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Name is the filesystem type's name.
const Name = "gofer"

// FilesystemType makes gofer filesystem instances. Register one value per
// VirtualFilesystem; MemoryFile, when set, backs the page cache that
// file mappings use (without it mmap fails with ENODEV).
type FilesystemType struct {
	MemoryFile *pgalloc.MemoryFile
}

// Name implements vfs.FilesystemType.
func (FilesystemType) Name() string { return Name }

// Options configure one instance.
type Options struct {
	// Client is the connection to the gofer. The filesystem does not
	// close it unless OwnsClient is set.
	Client     *lisafs.Client
	OwnsClient bool
	// Export is the export to mount ("/" for the root filesystem).
	Export string
	// ReadOnly refuses every mutation with EROFS before it reaches the
	// gofer. A read-only export makes the instance read-only whatever
	// this says.
	ReadOnly bool
	// MemoryFile backs the page cache of file mappings; nil disables
	// mmap (ENODEV).
	MemoryFile *pgalloc.MemoryFile
	// MaxIdleHandles bounds the host descriptors kept open after their
	// last file closed, so that reopening a recently used file costs no
	// gofer round trip. 0 means DefaultMaxIdleHandles; negative disables.
	MaxIdleHandles int
}

// DefaultMaxIdleHandles is the idle host-descriptor cache size.
const DefaultMaxIdleHandles = 128

// ParseOptions parses mount(2) data:
//
//	fd=N        the lisafs socket descriptor (required); the filesystem
//	            takes ownership of it
//	export=PATH the export to mount (default "/")
//	ro          read-only instance
//	cache=full  the only cache policy (the default; see the package doc)
//	idle_handles=N  host descriptors kept open after their file closed
//	            (0 disables; default DefaultMaxIdleHandles)
func ParseOptions(data string) (fd int, o Options, err error) {
	fd, o.Export = -1, "/"
	for _, opt := range strings.Split(data, ",") {
		if opt == "" {
			continue
		}
		k, v, _ := strings.Cut(opt, "=")
		switch k {
		case "fd":
			n, perr := strconv.ParseInt(v, 10, 32)
			if perr != nil || n < 0 {
				return -1, o, linux.EINVAL
			}
			fd = int(n)
		case "export":
			if !strings.HasPrefix(v, "/") {
				return -1, o, linux.EINVAL
			}
			o.Export = v
		case "ro":
			o.ReadOnly = true
		case "cache":
			if v != "full" {
				return -1, o, linux.EINVAL
			}
		case "idle_handles":
			n, perr := strconv.ParseUint(v, 10, 31)
			if perr != nil {
				return -1, o, linux.EINVAL
			}
			o.MaxIdleHandles = int(n)
			if n == 0 {
				o.MaxIdleHandles = -1
			}
		default:
			return -1, o, linux.EINVAL
		}
	}
	if fd < 0 {
		return -1, o, linux.EINVAL
	}
	return fd, o, nil
}

// GetFilesystem implements vfs.FilesystemType: it connects over the socket
// descriptor the data names and mounts the export.
func (ft FilesystemType) GetFilesystem(ctx context.Context, vfsObj *vfs.VirtualFilesystem, creds *auth.Credentials, source string, opts vfs.GetFilesystemOptions) (*vfs.Filesystem, *vfs.Dentry, error) {
	fd, o, err := ParseOptions(opts.Data)
	if err != nil {
		return nil, nil, err
	}
	c, err := lisafs.NewClient(os.NewFile(uintptr(fd), "gofer"))
	if err != nil {
		return nil, nil, linux.EIO
	}
	o.Client, o.OwnsClient, o.MemoryFile = c, true, ft.MemoryFile
	return NewFilesystem(ctx, vfsObj, o)
}

// filesystem is one mounted export.
type filesystem struct {
	vfsfs    vfs.Filesystem
	client   *lisafs.Client
	readOnly bool
	devMinor uint32
	mf       *pgalloc.MemoryFile
	// root is the export's root: a directory, or the file of a file
	// bind mount (see file_root.go).
	root node
	// fileRoot is the state of a file-rooted instance's root.
	fileRoot fileRootState

	table   inodeTable
	closer  handleCloser
	idle    idleHandles
	ownsCli bool
}

// NewFilesystem mounts o.Export over o.Client and returns the instance and
// its root dentry. The root is a directory, or for a file export a
// non-directory to be mounted over a file (vfs allows that when the two
// agree).
func NewFilesystem(ctx context.Context, vfsObj *vfs.VirtualFilesystem, o Options) (*vfs.Filesystem, *vfs.Dentry, error) {
	if o.Client == nil {
		return nil, nil, linux.EINVAL
	}
	export := o.Export
	if export == "" {
		export = "/"
	}
	root, exportRO, err := o.Client.Mount(export)
	if err != nil {
		if o.OwnsClient {
			o.Client.Close()
		}
		return nil, nil, toErrno(err)
	}
	fs := &filesystem{
		client:   o.Client,
		readOnly: o.ReadOnly || exportRO,
		devMinor: vfsObj.GetAnonBlockDevMinor(),
		mf:       o.MemoryFile,
		ownsCli:  o.OwnsClient,
	}
	fs.closer.client = o.Client
	switch {
	case o.MaxIdleHandles == 0:
		fs.idle.max = DefaultMaxIdleHandles
	case o.MaxIdleHandles > 0:
		fs.idle.max = o.MaxIdleHandles
	}
	fs.vfsfs.Init(vfsObj, FilesystemType{MemoryFile: o.MemoryFile}, fs)
	fs.root = fs.inodeFor(root, nil)
	fs.fileRoot.seen = versionOf(&root.Stat)
	return &fs.vfsfs, fs.vfsfs.NewRootDentry(fs.root), nil
}

// StatFS implements vfs.FilesystemImpl.
func (fs *filesystem) StatFS(context.Context) (linux.Statfs, error) {
	s, err := fs.client.StatFS(fs.root.base().fdid)
	if err != nil {
		return linux.Statfs{}, toErrno(err)
	}
	return linux.Statfs{
		// The host's own magic would let the application believe it
		// sees, say, ext4 semantics; Linux's 9p client reports its own.
		Type:            linux.V9FS_MAGIC,
		BlockSize:       s.BlockSize,
		Blocks:          s.Blocks,
		BlocksFree:      s.BlocksFree,
		BlocksAvailable: s.BlocksAvailable,
		Files:           s.Files,
		FilesFree:       s.FilesFree,
		FSID:            [2]int32{int32(fs.devMinor), 0},
		NameLength:      int64(s.NameLength),
		FragmentSize:    s.FragmentSize,
	}, nil
}

// Release closes every idle host descriptor and pending handle and, if
// the filesystem owns it, the connection. The VFS has no unmount hook yet
// that calls it; the boot code may at shutdown.
func Release(vfsfs *vfs.Filesystem) {
	fs, ok := vfsfs.Impl().(*filesystem)
	if !ok {
		return
	}
	fs.idle.drain()
	fs.closer.flush()
	if fs.ownsCli {
		fs.client.Close()
	}
}

// toErrno maps a lisafs client error to what the application sees: the
// server's errno, or EIO when the connection failed.
func toErrno(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(linux.Errno); ok {
		return e
	}
	return linux.EIO
}
