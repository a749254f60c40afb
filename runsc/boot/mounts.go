package boot

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/gofer"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// mount puts one of the container's mounts in place at m.Dest, creating
// the mount point first when the image lacks it (as runc does).
func (s *Sandbox) mount(ctx context.Context, creds *auth.Credentials, root vfs.VirtualDentry, client *lisafs.Client, m Mount) error {
	v := s.k.VFS
	if err := mkdirAll(ctx, v, creds, root, m.Dest); err != nil {
		// runc creates mount points before it makes the root read-only;
		// here the root is read-only from the start. A tmpfs that has
		// nowhere to go is left out rather than failing the container;
		// a bind mount carries the user's data and must not be.
		if m.Kind == MountTmpfs && errors.Is(err, linux.EROFS) {
			log.Infof("skipping the tmpfs on %s: no mount point in the read-only root", m.Dest)
			return nil
		}
		return fmt.Errorf("creating the mount point: %w", err)
	}
	pop := &vfs.PathOperation{Root: root, Start: root, Path: m.Dest, FollowFinalSymlink: true}
	switch m.Kind {
	case MountGofer:
		// Every export shares the root's connection; the root owns it.
		fs, froot, err := gofer.NewFilesystem(ctx, v, gofer.Options{
			Client: client, Export: m.Dest, ReadOnly: m.Flags&linux.MS_RDONLY != 0, MemoryFile: s.mf,
		})
		if err != nil {
			return err
		}
		mnt := v.NewDisconnectedMount(fs, froot, m.Flags)
		return v.MountDisconnectedAt(ctx, creds, mnt, pop)
	case MountTmpfs:
		opts := &vfs.MountOptions{Flags: m.Flags, GetFilesystemOptions: vfs.GetFilesystemOptions{Data: m.Data}, InternalMount: true}
		_, err := v.MountAt(ctx, creds, "tmpfs", pop, tmpfs.Name, opts)
		return err
	}
	return fmt.Errorf("unknown mount kind %q", m.Kind)
}

// mkdirAll creates p and its missing parents inside the sandbox.
func mkdirAll(ctx context.Context, v *vfs.VirtualFilesystem, creds *auth.Credentials, root vfs.VirtualDentry, p string) error {
	cur := "/"
	for _, name := range strings.Split(path.Clean(p), "/") {
		if name == "" {
			continue
		}
		cur = path.Join(cur, name)
		pop := &vfs.PathOperation{Root: root, Start: root, Path: cur, FollowFinalSymlink: true}
		// Look first: on a read-only root, mkdir of a directory that
		// exists fails with EROFS.
		vd, err := v.GetDentryAt(ctx, creds, pop, &vfs.GetDentryOptions{})
		if err == nil {
			vd.DecRef()
			continue
		}
		if !errors.Is(err, linux.ENOENT) {
			return err
		}
		if err := v.MkdirAt(ctx, creds, pop, 0o755); err != nil && !errors.Is(err, linux.EEXIST) {
			return err
		}
	}
	return nil
}
