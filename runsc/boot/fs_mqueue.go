package boot

import (
	"context"
	"errors"
	"fmt"
	"path"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/mqfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// mqueueFlags are those of the /dev/mqueue runc and Docker give a
// container.
const mqueueFlags = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC

// setupMqueue mounts the POSIX message
// queues of the sandbox's IPC namespace at /dev/mqueue, unless the
// container's own mounts put one there (an OCI mqueue mount, mounted
// later with its flags).
func (s *Sandbox) setupMqueue(ctx context.Context, creds *auth.Credentials, conf *Config, root vfs.VirtualDentry) error {
	v := s.k.VFS
	for _, m := range conf.Mounts {
		if m.Kind == MountMqueue && path.Clean(m.Dest) == "/dev/mqueue" {
			return nil
		}
	}
	if err := mkdirAll(ctx, v, creds, root, "/dev/mqueue"); err != nil {
		if errors.Is(err, linux.EROFS) || errors.Is(err, linux.ENOENT) {
			log.Infof("no /dev/mqueue: no mount point for it")
			return nil
		}
		return fmt.Errorf("making /dev/mqueue: %w", err)
	}
	pop := &vfs.PathOperation{Root: root, Start: root, Path: "/dev/mqueue", FollowFinalSymlink: true}
	opts := &vfs.MountOptions{Flags: mqueueFlags, InternalMount: true}
	if _, err := v.MountAt(ctx, creds, "mqueue", pop, mqfs.Name, opts); err != nil {
		return fmt.Errorf("mounting mqueue on /dev/mqueue: %w", err)
	}
	return nil
}
