package boot

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/dev"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/devpts"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/gofer"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/host"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/mqfs"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/overlay"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/proc"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// submounts are the file systems the Sentry itself provides over the
// container's root, as a container engine would mount them.
var submounts = []struct {
	path, fsType, data string
	flags              uint32
}{
	{"/dev", dev.Name, "", linux.MS_NOSUID},
	{"/proc", proc.Name, "", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC},
	// Docker's default shared-memory size.
	{"/dev/shm", tmpfs.Name, "mode=1777,size=64m", linux.MS_NOSUID | linux.MS_NODEV},
}

// registerFilesystems registers, once per sandbox, every file system type
// its containers mount.
func (s *Sandbox) registerFilesystems() error {
	v := s.k.VFS
	s.procType = proc.NewFilesystemType(s.k, s.procInfo())
	for _, ft := range []vfs.FilesystemType{
		tmpfs.FilesystemType{MemoryFile: s.mf}, dev.FilesystemType{}, gofer.FilesystemType{MemoryFile: s.mf},
		s.procType, devpts.FilesystemType{}, sysType(), mqfs.FilesystemType{Kernel: s.k},
		cgroupType(s.k, s.conf.Cgroup),
	} {
		if err := v.RegisterFilesystemType(ft, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: ft.Name() != gofer.Name}); err != nil {
			return fmt.Errorf("registering %s: %w", ft.Name(), err)
		}
	}
	if err := dev.RegisterDevices(v); err != nil {
		return fmt.Errorf("registering devices: %w", err)
	}
	return nil
}

// setupFilesystems builds a container's mount namespace, as conf says:
// the root served by the gofer at goferSock (under a writable overlay for
// runsc do), with /dev, /proc and /sys from the Sentry, and conf's mounts.
// goferLost runs if the gofer goes away.
func (s *Sandbox) setupFilesystems(ctx context.Context, creds *auth.Credentials, conf *Config, goferSock *os.File, goferLost func()) (*vfs.MountNamespace, error) {
	v := s.k.VFS
	client, err := lisafs.NewClient(goferSock)
	if err != nil {
		return nil, fmt.Errorf("connecting to the gofer: %w", err)
	}
	go watchGofer(client, goferLost)
	gfs, groot, err := gofer.NewFilesystem(ctx, v, gofer.Options{
		Client: client, OwnsClient: true, Export: "/", ReadOnly: conf.RootReadOnly, MemoryFile: s.mf,
	})
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("mounting the root file system: %w", err)
	}
	rootFS, rootDentry, rootFlags := gfs, groot, uint32(0)
	if conf.RootOverlay {
		if rootFS, rootDentry, err = s.rootOverlay(ctx, creds, gfs, groot); err != nil {
			return nil, err
		}
	} else if conf.RootReadOnly {
		rootFlags = linux.MS_RDONLY
	}
	mntns := v.NewMountNamespaceWithRoot(creds, rootFS, rootDentry, rootFlags)
	if s.procType.MountNamespace == nil {
		// /proc/mounts shows the first container's mounts, whichever
		// container reads it.
		s.procType.MountNamespace = mntns
	}

	root := mntns.Root()
	defer root.DecRef()
	for _, m := range submounts {
		pop := &vfs.PathOperation{Root: root, Start: root, Path: m.path, FollowFinalSymlink: true}
		opts := &vfs.MountOptions{Flags: m.flags, GetFilesystemOptions: vfs.GetFilesystemOptions{Data: m.data}, InternalMount: true}
		if _, err := v.MountAt(ctx, creds, "none", pop, m.fsType, opts); err != nil {
			// A root without the mount point (a minimal image) simply
			// goes without; the program sees what its image has.
			if err == linux.ENOENT {
				continue
			}
			return nil, fmt.Errorf("mounting %s on %s: %w", m.fsType, m.path, err)
		}
	}
	if err := s.setupDevpts(ctx, creds, root); err != nil {
		return nil, err
	}
	if err := s.setupSys(ctx, creds, conf, root); err != nil {
		return nil, err
	}
	if err := s.setupMqueue(ctx, creds, conf, root); err != nil {
		return nil, err
	}
	for _, m := range conf.Mounts {
		if err := s.mount(ctx, creds, root, client, m); err != nil {
			return nil, fmt.Errorf("mounting %s on %s: %w", m.Kind, m.Dest, err)
		}
	}
	return mntns, nil
}

// rootOverlay puts an in-memory upper layer over the gofer's root, so the
// container can write anywhere while the host's files never change.
func (s *Sandbox) rootOverlay(ctx context.Context, creds *auth.Credentials, lowerFS *vfs.Filesystem, lowerRoot *vfs.Dentry) (*vfs.Filesystem, *vfs.Dentry, error) {
	v := s.k.VFS
	lower := v.NewDisconnectedMount(lowerFS, lowerRoot, linux.MS_RDONLY)
	upperFS, upperRoot := tmpfs.NewFilesystem(v, tmpfs.Options{RootMode: 0o755, MemoryFile: s.mf})
	upper := v.NewDisconnectedMount(upperFS, upperRoot, 0)
	fs, root, err := overlay.NewFilesystem(ctx, v, creds, overlay.Options{
		Lower: vfs.MakeVirtualDentry(lower, lowerRoot),
		Upper: vfs.MakeVirtualDentry(upper, upperRoot),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("overlaying the root file system: %w", err)
	}
	return fs, root, nil
}

// stdioTable returns an fd table with the host fds stdio as fds 0, 1 and
// 2. It owns stdio, whatever the outcome.
func (s *Sandbox) stdioTable(ctx context.Context, stdio [3]int) (*vfs.FDTable, error) {
	t := vfs.NewFDTable()
	for i, hostFD := range stdio {
		fd, err := host.NewFD(ctx, s.k.VFS, hostFD, host.FDOptions{})
		if err != nil {
			closeFDs(stdio[i:])
			t.DecRef(ctx)
			return nil, fmt.Errorf("stdio %d: %w", i, err)
		}
		err = t.NewFDAt(ctx, int32(i), fd, vfs.FDFlags{})
		fd.DecRef(ctx)
		if err != nil {
			closeFDs(stdio[i+1:])
			t.DecRef(ctx)
			return nil, err
		}
	}
	return t, nil
}

// procInfo is what /proc reports about the machine: the host's facts as
// the creator captured them.
func (s *Sandbox) procInfo() proc.SystemInfo {
	var si syscall.Sysinfo_t
	syscall.Sysinfo(&si)
	return proc.SystemInfo{
		CPUInfo:       string(s.conf.HostCPUInfo),
		NumCPUs:       runtime.NumCPU(),
		MemTotal:      uint64(si.Totalram) * uint64(si.Unit),
		OSRelease:     s.conf.HostRelease,
		KernelVersion: s.conf.HostVersion,
		BootTime:      s.start,
	}
}
