package vfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// FilesystemType is a kind of filesystem that mount(2) can name.
type FilesystemType interface {
	// Name is the type's name as mount(2) and /proc/filesystems spell it.
	Name() string
	// GetFilesystem returns a filesystem instance and the dentry of its
	// root. A type may return an existing instance (a single-instance
	// filesystem) or make a new one for each call.
	GetFilesystem(ctx context.Context, vfs *VirtualFilesystem, creds *auth.Credentials, source string, opts GetFilesystemOptions) (*Filesystem, *Dentry, error)
}

// GetFilesystemOptions are the filesystem-specific arguments of a mount.
type GetFilesystemOptions struct {
	// Data is mount(2)'s data argument: comma-separated options.
	Data string
}

// FilesystemImpl is what a filesystem implements once per instance.
type FilesystemImpl interface {
	// StatFS answers statfs(2) for any file of the filesystem.
	StatFS(ctx context.Context) (linux.Statfs, error)
}

// Filesystem is one instance of a filesystem: what Linux calls a
// superblock. Dentries and mounts point at it.
//
// +stateify savable
type Filesystem struct {
	vfs    *VirtualFilesystem
	fsType FilesystemType
	impl   FilesystemImpl
}

// Init binds fs to its type and implementation. A filesystem type calls
// it once when it makes an instance.
func (fs *Filesystem) Init(vfs *VirtualFilesystem, fsType FilesystemType, impl FilesystemImpl) {
	fs.vfs, fs.fsType, fs.impl = vfs, fsType, impl
}

// VirtualFilesystem returns the VFS fs belongs to.
func (fs *Filesystem) VirtualFilesystem() *VirtualFilesystem { return fs.vfs }

// Type returns the filesystem's type.
func (fs *Filesystem) Type() FilesystemType { return fs.fsType }

// Impl returns the filesystem's implementation.
func (fs *Filesystem) Impl() FilesystemImpl { return fs.impl }

// NewRootDentry returns a dentry for inode, the root of fs's tree (or of
// a tree of files that are not reachable by any path, such as pipes).
func (fs *Filesystem) NewRootDentry(inode Inode) *Dentry {
	return &Dentry{fs: fs, inode: inode}
}

// NewDisconnectedDentry returns a parentless dentry called name, for an
// anonymous file (a pipe, a socket) whose name /proc/self/fd shows.
func (fs *Filesystem) NewDisconnectedDentry(inode Inode, name string) *Dentry {
	return &Dentry{fs: fs, inode: inode, name: name, disconnected: true}
}

// RegisterFilesystemTypeOptions qualify a registration.
//
// +stateify savable
type RegisterFilesystemTypeOptions struct {
	// AllowUserMount lets mount(2) from the application create
	// instances; kernel-internal types (pipefs) leave it false.
	AllowUserMount bool
}

// +stateify savable
type registeredFilesystemType struct {
	fsType FilesystemType
	opts   RegisterFilesystemTypeOptions
}

// RegisterFilesystemType makes fsType known under its name. It fails with
// EEXIST if the name is taken.
func (vfs *VirtualFilesystem) RegisterFilesystemType(fsType FilesystemType, opts *RegisterFilesystemTypeOptions) error {
	vfs.typesMu.Lock()
	defer vfs.typesMu.Unlock()
	if _, ok := vfs.fsTypes[fsType.Name()]; ok {
		return linux.EEXIST
	}
	rt := &registeredFilesystemType{fsType: fsType}
	if opts != nil {
		rt.opts = *opts
	}
	vfs.fsTypes[fsType.Name()] = rt
	return nil
}

// FilesystemTypeNames returns the registered type names that mount(2)
// accepts, for /proc/filesystems.
func (vfs *VirtualFilesystem) FilesystemTypeNames() []string {
	vfs.typesMu.RLock()
	defer vfs.typesMu.RUnlock()
	var names []string
	for n, rt := range vfs.fsTypes {
		if rt.opts.AllowUserMount {
			names = append(names, n)
		}
	}
	return names
}

func (vfs *VirtualFilesystem) getFilesystemType(name string, fromUser bool) (FilesystemType, error) {
	vfs.typesMu.RLock()
	defer vfs.typesMu.RUnlock()
	rt, ok := vfs.fsTypes[name]
	if !ok || (fromUser && !rt.opts.AllowUserMount) {
		return nil, linux.ENODEV
	}
	return rt.fsType, nil
}

// NewFilesystem makes an instance of the type called fsTypeName.
func (vfs *VirtualFilesystem) NewFilesystem(ctx context.Context, creds *auth.Credentials, source, fsTypeName string, opts GetFilesystemOptions) (*Filesystem, *Dentry, error) {
	t, err := vfs.getFilesystemType(fsTypeName, false)
	if err != nil {
		return nil, nil, err
	}
	return t.GetFilesystem(ctx, vfs, creds, source, opts)
}
