package boot

import (
	"context"
	"errors"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/devpts"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// devptsData are the options of the sandbox's /dev/pts, those runc and
// Docker give a container's: replicas rw for their owner and writable by
// group tty (5), and a ptmx anyone can open.
const devptsData = "newinstance,ptmxmode=0666,mode=0620,gid=5"

// setupDevpts mounts a devpts instance on /dev/pts
// and makes /dev/ptmx a symlink to its ptmx (as runc does), so that
// posix_openpt, openpty and the programs that use them work. A root
// without /dev/pts goes without.
func (s *Sandbox) setupDevpts(ctx context.Context, creds *auth.Credentials, root vfs.VirtualDentry) error {
	v := s.k.VFS
	pop := &vfs.PathOperation{Root: root, Start: root, Path: "/dev/pts", FollowFinalSymlink: true}
	opts := &vfs.MountOptions{Flags: linux.MS_NOSUID | linux.MS_NOEXEC, GetFilesystemOptions: vfs.GetFilesystemOptions{Data: devptsData}, InternalMount: true}
	if _, err := v.MountAt(ctx, creds, "devpts", pop, devpts.Name, opts); err != nil {
		if errors.Is(err, linux.ENOENT) {
			return nil
		}
		return fmt.Errorf("mounting devpts on /dev/pts: %w", err)
	}
	link := &vfs.PathOperation{Root: root, Start: root, Path: "/dev/ptmx"}
	if err := v.SymlinkAt(ctx, creds, link, "pts/ptmx"); err != nil && !errors.Is(err, linux.EEXIST) {
		return fmt.Errorf("linking /dev/ptmx: %w", err)
	}
	return nil
}
