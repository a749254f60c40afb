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
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/cgroupfs"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/devpts"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/gofer"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/mqfs"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// mount puts one of the container's mounts in place at m.Dest, creating
// the mount point first when the image lacks it (as runc does): a
// directory, or for a file bind mount an empty file.
func (s *Sandbox) mount(ctx context.Context, creds *auth.Credentials, root vfs.VirtualDentry, client *lisafs.Client, m Mount) error {
	v := s.k.VFS
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
		isDir := froot.Inode().Type() == linux.S_IFDIR
		if err := makeMountPoint(ctx, v, creds, root, m.Dest, isDir); err != nil {
			// A bind mount carries the user's data: it must not be left
			// out, even where a read-only root has no mount point.
			gofer.Release(fs)
			return err
		}
		mnt := v.NewDisconnectedMount(fs, froot, m.Flags)
		return v.MountDisconnectedAt(ctx, creds, mnt, pop)
	case MountTmpfs, MountSysfs, MountDevpts, MountMqueue, MountCgroup:
		if err := makeMountPoint(ctx, v, creds, root, m.Dest, true); err != nil {
			// runc creates mount points before it makes the root
			// read-only; here the root is read-only from the start. A
			// file system of the Sentry's own that has nowhere to go is
			// left out rather than failing the container.
			if errors.Is(err, linux.EROFS) {
				log.Infof("skipping the %s on %s: no mount point in the read-only root", m.Kind, m.Dest)
				return nil
			}
			return err
		}
		if m.Kind == MountSysfs {
			return mountSysfs(ctx, v, creds, pop, m.Flags)
		}
		fsType := map[string]string{
			MountTmpfs: tmpfs.Name, MountDevpts: devpts.Name, MountMqueue: mqfs.Name, MountCgroup: cgroupfs.Name,
		}[m.Kind]
		opts := &vfs.MountOptions{Flags: m.Flags, GetFilesystemOptions: vfs.GetFilesystemOptions{Data: m.Data}, InternalMount: true}
		_, err := v.MountAt(ctx, creds, m.Kind, pop, fsType, opts)
		return err
	}
	return fmt.Errorf("unknown mount kind %q", m.Kind)
}

// makeMountPoint makes sure p exists in the container as a directory
// (dir) or as a file to mount a file over, creating it and its parents
// as needed: a missing file is created empty, as runc does. A mount
// point of the other kind is an error, as Linux refuses to mount a
// directory over a file or the reverse.
func makeMountPoint(ctx context.Context, v *vfs.VirtualFilesystem, creds *auth.Credentials, root vfs.VirtualDentry, p string, dir bool) error {
	parent := p
	if !dir {
		parent = path.Dir(path.Clean(p))
	}
	if err := mkdirAll(ctx, v, creds, root, parent); err != nil {
		return fmt.Errorf("creating the mount point: %w", err)
	}
	pop := &vfs.PathOperation{Root: root, Start: root, Path: p, FollowFinalSymlink: true}
	vd, err := v.GetDentryAt(ctx, creds, pop, &vfs.GetDentryOptions{})
	if errors.Is(err, linux.ENOENT) && !dir {
		// Through a dangling symlink this creates its target, as
		// runc's mount point creation does.
		fd, cerr := v.OpenAt(ctx, creds, pop, &vfs.OpenOptions{Flags: linux.O_RDONLY | linux.O_CREAT, Mode: 0o755})
		if cerr != nil {
			return fmt.Errorf("creating the mount point file: %w", cerr)
		}
		fd.DecRef(ctx)
		vd, err = v.GetDentryAt(ctx, creds, pop, &vfs.GetDentryOptions{})
	}
	if err != nil {
		return fmt.Errorf("looking up the mount point: %w", err)
	}
	isDir := vd.Dentry().Inode().Type() == linux.S_IFDIR
	vd.DecRef()
	switch {
	case dir && !isDir:
		return fmt.Errorf("cannot mount a directory on %s, which is not a directory in the container: %w", p, linux.ENOTDIR)
	case !dir && isDir:
		return fmt.Errorf("cannot mount a file on %s, which is a directory in the container: %w", p, linux.ENOTDIR)
	}
	return nil
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
