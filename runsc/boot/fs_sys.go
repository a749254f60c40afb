package boot

import (
	"context"
	"errors"
	"fmt"
	"path"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/sys"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// sysFlags are the flags of the /sys every sandbox gets: read-only, as
// Docker and Podman mount it for containers that are not privileged.
const sysFlags = linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC

// sysType is the sysfs type the sandbox registers. The network stack has
// no interface list to offer yet: /sys/class/net shows the loopback
// interface alone until it sets NetInterfaces.
func sysType() *sys.FilesystemType { return &sys.FilesystemType{NumCPUs: kernel.NumCPUs()} }

// setupSys mounts sysfs at /sys, unless the container's
// own mounts put one there (an OCI bundle's sysfs mount, mounted later
// with its flags). A root without /sys gets one where it can be made; a
// read-only root without it goes without, as with /dev and /proc.
func (s *Sandbox) setupSys(ctx context.Context, creds *auth.Credentials, conf *Config, root vfs.VirtualDentry) error {
	v := s.k.VFS
	for _, m := range conf.Mounts {
		if m.Kind == MountSysfs && path.Clean(m.Dest) == "/sys" {
			return nil
		}
	}
	if err := mkdirAll(ctx, v, creds, root, "/sys"); err != nil {
		if errors.Is(err, linux.EROFS) {
			log.Infof("no /sys: the read-only root has no mount point for it")
			return nil
		}
		return fmt.Errorf("creating /sys: %w", err)
	}
	pop := &vfs.PathOperation{Root: root, Start: root, Path: "/sys", FollowFinalSymlink: true}
	return mountSysfs(ctx, v, creds, pop, sysFlags)
}

// mountSysfs mounts a new sysfs instance at the directory pop names.
func mountSysfs(ctx context.Context, v *vfs.VirtualFilesystem, creds *auth.Credentials, pop *vfs.PathOperation, flags uint32) error {
	_, err := v.MountAt(ctx, creds, "sysfs", pop, sys.Name, &vfs.MountOptions{Flags: flags, InternalMount: true})
	if err != nil {
		return fmt.Errorf("mounting %s: %w", sys.Name, err)
	}
	return nil
}
