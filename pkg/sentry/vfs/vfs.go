package vfs

import (
	"sync"
	"sync/atomic"
)

// VirtualFilesystem is the root of the VFS: the registry of filesystem
// types and devices, and the locks that order changes to the mount tree
// and to dentry names. One exists per sandbox kernel.
//
// Lock order: renameMu, then mountMu, then Dentry.mu (a parent's before
// its child's); filesystem-internal locks come after all of these.
//
// +stateify savable
type VirtualFilesystem struct {
	// mountMu guards the mount tree: mountpoints, and every Mount's
	// parent, point, children and ns.
	mountMu sync.RWMutex // +state:nosave
	// mountpoints maps a (parent mount, dentry) pair to the mount
	// attached there. Mounts stack: a second mount at the same path
	// attaches to the first one's root.
	mountpoints map[VirtualDentry]*Mount

	// renameMu is held for writing by rename, the only operation that
	// moves a dentry to another parent; it is held for reading by
	// anything that reads Dentry.parent or Dentry.name of dentries it
	// has not locked, so those reads see a consistent tree.
	renameMu sync.RWMutex // +state:nosave

	// typesMu guards fsTypes.
	typesMu sync.RWMutex // +state:nosave
	fsTypes map[string]*registeredFilesystemType

	// devicesMu guards devices.
	devicesMu sync.RWMutex // +state:nosave
	devices   map[deviceKey]Device

	lastMountID   atomic.Uint64
	lastAnonMinor atomic.Uint32
}

// New returns an empty VirtualFilesystem with no filesystem types or
// devices registered.
func New() *VirtualFilesystem {
	return &VirtualFilesystem{
		mountpoints: make(map[VirtualDentry]*Mount),
		fsTypes:     make(map[string]*registeredFilesystemType),
		devices:     make(map[deviceKey]Device),
	}
}

// GetAnonBlockDevMinor returns a fresh minor number under major 0 for a
// filesystem that has no backing device (tmpfs, pipefs, ...), as Linux
// gives each such superblock its own st_dev.
func (vfs *VirtualFilesystem) GetAnonBlockDevMinor() uint32 {
	return vfs.lastAnonMinor.Add(1)
}
