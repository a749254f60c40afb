// Package dev provides /dev: the memory character devices (null, zero,
// full, random, urandom) and /dev/tty (the caller's controlling
// terminal), registered in the VFS device table under their Linux
// numbers, and a devtmpfs filesystem type whose instances are tmpfs
// trees populated with the standard nodes and links. Because the devices
// live in the VFS table, a node mknod'd anywhere (on a tmpfs, say) with
// the same number opens the same device.
package dev

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"context"
	"crypto/rand"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// MemDevMajor is the major number of the memory devices.
const MemDevMajor = 1

// Minor numbers of the memory devices.
const (
	NullMinor    = 3
	ZeroMinor    = 5
	FullMinor    = 7
	RandomMinor  = 8
	URandomMinor = 9
)

// memDevice is the driver of one memory device.
//
// +stateify savable
type memDevice struct {
	minor uint32
}

// RegisterDevices installs the memory devices and /dev/tty in vfsObj's
// device table.
func RegisterDevices(vfsObj *vfs.VirtualFilesystem) error {
	for _, minor := range []uint32{NullMinor, ZeroMinor, FullMinor, RandomMinor, URandomMinor} {
		if err := vfsObj.RegisterDevice(vfs.CharDevice, MemDevMajor, minor, &memDevice{minor}); err != nil {
			return err
		}
	}
	return vfsObj.RegisterDevice(vfs.CharDevice, TTYMajor, TTYMinor, ttyDevice{})
}

// Open implements vfs.Device.
func (d *memDevice) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	impl := &memFD{minor: d.minor}
	impl.vfsfd = &vfs.FileDescription{}
	impl.vfsfd.Init(impl, opts.Flags, vd, nil)
	return impl.vfsfd, nil
}

// memFD is an open memory device.
//
// +stateify savable
type memFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd *vfs.FileDescription
	minor uint32
}

// chunk bounds each copy so that a huge read does not need a huge buffer.
const chunk = 64 << 10

// Read implements vfs.FileDescriptionImpl: null is always at end of file,
// zero and full read as zeros, random and urandom as random bytes from
// the host's getrandom(2).
func (fd *memFD) Read(ctx context.Context, dst vfs.IOSequence, _ int64, _ vfs.ReadOptions) (int64, error) {
	if fd.minor == NullMinor {
		return 0, nil
	}
	buf := make([]byte, min(dst.NumBytes(), chunk))
	var done int64
	for dst.NumBytes() > 0 {
		b := buf[:min(dst.NumBytes(), chunk)]
		if fd.minor == RandomMinor || fd.minor == URandomMinor {
			rand.Read(b)
		}
		n, err := dst.CopyOut(ctx, b)
		done += int64(n)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		dst = dst.DropFirst(int64(n))
	}
	return done, nil
}

// Write implements vfs.FileDescriptionImpl: full is always full (ENOSPC);
// the others accept and discard everything. random and urandom read the
// caller's bytes (so a bad buffer faults, as on Linux); null and zero do
// not look at them.
func (fd *memFD) Write(ctx context.Context, src vfs.IOSequence, offset int64, _ vfs.WriteOptions) (int64, int64, error) {
	switch fd.minor {
	case FullMinor:
		return 0, offset, linux.ENOSPC
	case RandomMinor, URandomMinor:
		buf := make([]byte, min(src.NumBytes(), chunk))
		var done int64
		for src.NumBytes() > 0 {
			n, err := src.CopyIn(ctx, buf[:min(src.NumBytes(), chunk)])
			done += int64(n)
			if err != nil {
				if done > 0 {
					break
				}
				return 0, offset, err
			}
			src = src.DropFirst(int64(n))
		}
		return done, offset + done, nil
	}
	n := src.NumBytes()
	return n, offset + n, nil
}

// Seek implements vfs.Seeker: null, zero and full always seek to 0;
// random and urandom keep the position (as noop_llseek).
func (fd *memFD) Seek(_ context.Context, _ int64, _ int32, cur int64) (int64, error) {
	if fd.minor == RandomMinor || fd.minor == URandomMinor {
		return cur, nil
	}
	return 0, nil
}
