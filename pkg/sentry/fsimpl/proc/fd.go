package proc

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// fdContents is /proc/PID/fd (a magic link per descriptor) or, with
// info, /proc/PID/fdinfo (a file per descriptor).
type fdContents struct {
	fs   *filesystem
	t    *kernel.Task
	id   kernel.ThreadID
	info bool
}

func (c *fdContents) space() uint64 {
	if c.info {
		return inoSpaceFDInfo
	}
	return inoSpaceFD
}

func (c *fdContents) list(context.Context) []dirent {
	table := c.t.ProcFDTable()
	if table == nil {
		return nil
	}
	mode := linux.FileMode(linux.S_IFLNK)
	if c.info {
		mode = linux.S_IFREG
	}
	var out []dirent
	table.ForEach(func(fd int32, _ *vfs.FileDescription, _ vfs.FDFlags) {
		out = append(out, dirent{name: strconv.Itoa(int(fd)), mode: mode, ino: taskIno(c.space(), c.id, uint64(fd)), off: 2 + int64(fd)})
	})
	return out
}

// file returns the open file at fd with a reference, or nil.
func (c *fdContents) file(fd int32) (*vfs.FileDescription, vfs.FDFlags) {
	table := c.t.ProcFDTable()
	if table == nil {
		return nil, vfs.FDFlags{}
	}
	return table.Get(fd)
}

func (c *fdContents) lookup(ctx context.Context, name string) (vfs.Inode, error) {
	n, ok := parseID(name)
	if !ok {
		return nil, linux.ENOENT
	}
	fd := int32(n)
	f, _ := c.file(fd)
	if f == nil {
		return nil, linux.ENOENT
	}
	f.DecRef(ctx)
	ino := taskIno(c.space(), c.id, uint64(fd))
	if c.info {
		return c.fs.newFile(ino, 0444, c.t, &fdInfoData{c: c, fd: fd}), nil
	}
	l := c.fs.newMagicLink(ino, c.t, &fdLink{c: c, fd: fd})
	// The link's permissions show how the file is open, as Linux's do.
	l.mode = linux.S_IFLNK
	if f.IsReadable() {
		l.mode |= 0500
	}
	if f.IsWritable() {
		l.mode |= 0300
	}
	return l, nil
}

// valid keeps fd/N while N is open; the link reads the table each time,
// so a descriptor reused for another file shows the new one.
func (c *fdContents) valid(ctx context.Context, name string, _ vfs.Inode) bool {
	n, ok := parseID(name)
	if !ok {
		return false
	}
	f, _ := c.file(int32(n))
	if f == nil {
		return false
	}
	f.DecRef(ctx)
	return true
}

// fdLink is /proc/PID/fd/N.
type fdLink struct {
	c  *fdContents
	fd int32
}

func (l *fdLink) getLink(context.Context) (vfs.VirtualDentry, error) {
	f, _ := l.c.file(l.fd)
	if f == nil {
		return vfs.VirtualDentry{}, linux.ENOENT
	}
	vd := f.VirtualDentry()
	vd.IncRef()
	f.DecRef(context.Background())
	return vd, nil
}

// readlink renders the file's path from the reader's root; anonymous
// files (pipes) have names like "pipe:[ino]".
func (l *fdLink) readlink(ctx context.Context) (string, error) {
	f, _ := l.c.file(l.fd)
	if f == nil {
		return "", linux.ENOENT
	}
	defer f.DecRef(ctx)
	vd := f.VirtualDentry()
	if !vd.Ok() {
		return "", linux.ENOENT
	}
	return pathFromReader(ctx, l.c.fs, l.c.t, vd)
}

// fdInfoData is /proc/PID/fdinfo/N.
type fdInfoData struct {
	c  *fdContents
	fd int32
}

func (d *fdInfoData) generate(ctx context.Context, b *bytes.Buffer) error {
	f, flags := d.c.file(d.fd)
	if f == nil {
		return linux.ENOENT
	}
	defer f.DecRef(ctx)
	fl := f.StatusFlags()
	if flags.CloseOnExec {
		fl |= linux.O_CLOEXEC
	}
	var pos int64
	if !f.IsStream() {
		pos = f.Offset()
	}
	var mntID, ino uint64
	if f.VirtualDentry().Ok() {
		mntID = f.Mount().ID()
	}
	if st, err := f.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_INO}); err == nil {
		ino = st.Ino
	}
	fmt.Fprintf(b, "pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n", pos, fl, mntID, ino)
	return nil
}
