package proc

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// mountsData is /proc/PID/mounts or, with info, mountinfo: the mounts of
// the mount namespace reachable from the reader's root, in the order they
// were made.
type mountsData struct {
	fs   *filesystem
	t    *kernel.Task
	info bool
}

// mountLine is what both formats need of one mount.
type mountLine struct {
	id, parent   uint64
	major, minor uint32
	point        string
	fsType       string
	flags        uint32
}

func (d *mountsData) generate(ctx context.Context, b *bytes.Buffer) error {
	mntns := d.fs.ft.MountNamespace
	if mntns == nil {
		return nil
	}
	root, ok := readerRoot(ctx, d.t)
	if !ok {
		return nil
	}
	defer root.DecRef()
	vfsObj := d.fs.vfs()
	mounts := vfsObj.Mounts(mntns)
	slices.SortFunc(mounts, func(a, b *vfs.Mount) int { return int(a.ID()) - int(b.ID()) })
	var lines []mountLine
	for _, m := range mounts {
		p, err := vfsObj.PathnameForGetcwd(root, vfs.MakeVirtualDentry(m, m.Root()))
		if err != nil || strings.HasPrefix(p, "(unreachable)") {
			continue
		}
		l := mountLine{id: m.ID(), point: p, fsType: m.Filesystem().Type().Name(), flags: m.Flags()}
		if st, err := m.Root().Inode().Stat(ctx, vfs.StatOptions{Mask: linux.STATX_INO}); err == nil {
			l.major, l.minor = st.DevMajor, st.DevMinor
		}
		l.parent = parentMount(lines, l)
		lines = append(lines, l)
	}
	for _, l := range lines {
		opts := mountOptions(l.flags)
		if d.info {
			fmt.Fprintf(b, "%d %d %d:%d / %s %s - %s %s rw\n", l.id, l.parent, l.major, l.minor, escapePath(l.point), opts, l.fsType, l.fsType)
		} else {
			fmt.Fprintf(b, "%s %s %s %s 0 0\n", l.fsType, escapePath(l.point), l.fsType, opts)
		}
	}
	return nil
}

// parentMount finds the mount l is attached to among the earlier ones:
// the latest made whose mount point is l's or an ancestor of it. The root
// mount is its own parent, as the namespace root shows in mountinfo.
func parentMount(earlier []mountLine, l mountLine) uint64 {
	parent, best := l.id, -1
	for _, e := range earlier {
		if isPathPrefix(e.point, l.point) && len(e.point) >= best {
			parent, best = e.id, len(e.point)
		}
	}
	return parent
}

func isPathPrefix(dir, p string) bool {
	if dir == "/" || dir == p {
		return true
	}
	return strings.HasPrefix(p, dir+"/")
}

// mountOptions renders per-mount flags in Linux's order.
func mountOptions(flags uint32) string {
	opts := []string{"rw"}
	if flags&linux.MS_RDONLY != 0 {
		opts[0] = "ro"
	}
	for _, f := range []struct {
		bit  uint32
		name string
	}{
		{linux.MS_NOSUID, "nosuid"}, {linux.MS_NODEV, "nodev"}, {linux.MS_NOEXEC, "noexec"},
		{linux.MS_NOATIME, "noatime"}, {linux.MS_NODIRATIME, "nodiratime"}, {linux.MS_RELATIME, "relatime"},
		{linux.MS_NOSYMFOLLOW, "nosymfollow"},
	} {
		if flags&f.bit != 0 {
			opts = append(opts, f.name)
		}
	}
	return strings.Join(opts, ",")
}

// escapePath escapes what would break the space-separated format, as
// Linux's mangle does: space, tab, newline and backslash as octal.
func escapePath(p string) string {
	return strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(p)
}
