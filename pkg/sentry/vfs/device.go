package vfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// DeviceKind tells character devices from block devices; their numbers
// are separate spaces.
type DeviceKind uint8

const (
	CharDevice DeviceKind = iota
	BlockDevice
)

// Device is a driver that device special files open, wherever the node
// lives (devtmpfs, a node mknod'd on tmpfs, a bind mount).
type Device interface {
	// Open returns a new file for the node at vd.
	Open(ctx context.Context, vd VirtualDentry, opts OpenOptions) (*FileDescription, error)
}

// +stateify savable
type deviceKey struct {
	kind         DeviceKind
	major, minor uint32
}

// RegisterDevice installs dev as the driver of (kind, major, minor). It
// fails with EEXIST if the number is taken.
func (vfs *VirtualFilesystem) RegisterDevice(kind DeviceKind, major, minor uint32, dev Device) error {
	vfs.devicesMu.Lock()
	defer vfs.devicesMu.Unlock()
	k := deviceKey{kind, major, minor}
	if _, ok := vfs.devices[k]; ok {
		return linux.EEXIST
	}
	vfs.devices[k] = dev
	return nil
}

// OpenDeviceSpecialFile opens the device a node at vd names. A number
// with no driver fails with ENXIO, as on Linux.
func (vfs *VirtualFilesystem) OpenDeviceSpecialFile(ctx context.Context, vd VirtualDentry, kind DeviceKind, major, minor uint32, opts OpenOptions) (*FileDescription, error) {
	vfs.devicesMu.RLock()
	dev, ok := vfs.devices[deviceKey{kind, major, minor}]
	vfs.devicesMu.RUnlock()
	if !ok {
		return nil, linux.ENXIO
	}
	return dev.Open(ctx, vd, opts)
}
