package proc

import (
	"bytes"
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Files read from a process's address space: cmdline, environ, maps,
// mem. A process without one (a zombie) reads as empty, as on Linux.

// withMM runs f on t's address space; it does nothing once t has none.
func withMM(t *kernel.Task, f func(m *mm.MemoryManager)) {
	m := t.ProcMemoryManager()
	if m == nil {
		return
	}
	defer m.DecUsers()
	f(m)
}

// readRange reads [start, end) of m, stopping at the first address that
// cannot be read.
func readRange(m *mm.MemoryManager, start, end uint64) []byte {
	if end <= start || end-start > 1<<24 {
		return nil
	}
	buf := make([]byte, end-start)
	n, _ := m.CopyIn(uintptr(start), buf)
	return buf[:n]
}

// cmdlineData is /proc/PID/cmdline: the argument strings as they are now
// in the process's memory. If the process overwrote the final NUL (as
// setproctitle does), the text runs on into the environment area up to
// the first NUL, as Linux shows it.
type cmdlineData struct{ t *kernel.Task }

func (d *cmdlineData) generate(_ context.Context, b *bytes.Buffer) error {
	img := d.t.ProcImage()
	if img == nil {
		return nil
	}
	withMM(d.t, func(m *mm.MemoryManager) {
		args := readRange(m, img.ArgvStart, img.ArgvEnd)
		if len(args) == 0 {
			return
		}
		if args[len(args)-1] != 0 {
			if i := bytes.IndexByte(args, 0); i >= 0 {
				args = args[:i]
			} else {
				env := readRange(m, img.EnvvStart, img.EnvvEnd)
				if i := bytes.IndexByte(env, 0); i >= 0 {
					env = env[:i]
				}
				args = append(args, env...)
			}
		}
		b.Write(args)
	})
	return nil
}

// environData is /proc/PID/environ.
type environData struct{ t *kernel.Task }

func (d *environData) generate(_ context.Context, b *bytes.Buffer) error {
	img := d.t.ProcImage()
	if img == nil {
		return nil
	}
	withMM(d.t, func(m *mm.MemoryManager) { b.Write(readRange(m, img.EnvvStart, img.EnvvEnd)) })
	return nil
}

// auxvData is /proc/PID/auxv: the auxiliary vector the program started
// with, as binary pairs.
type auxvData struct{ t *kernel.Task }

func (d *auxvData) generate(_ context.Context, b *bytes.Buffer) error {
	if img := d.t.ProcImage(); img != nil {
		b.Write(img.AuxvBytes())
	}
	return nil
}

// mapsData is /proc/PID/maps.
type mapsData struct{ t *kernel.Task }

func (d *mapsData) generate(_ context.Context, b *bytes.Buffer) error {
	withMM(d.t, func(m *mm.MemoryManager) { b.Write(m.Maps()) })
	return nil
}

// memFile is /proc/PID/mem: the address space, read at the file offset.
// Writing through it is not supported (the file is read-only here).
type memFile struct {
	attrs
}

func (fs *filesystem) newMemFile(ino uint64, t *kernel.Task) *memFile {
	return &memFile{attrs{fs: fs, ino: ino, mode: linux.S_IFREG | 0400, task: t}}
}

// Open implements vfs.Inode.
func (f *memFile) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	if !mayAccess(ctx, f.task) {
		return nil, linux.EACCES
	}
	fd := &memFD{t: f.task}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

type memFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	t     *kernel.Task
}

// Read implements vfs.FileDescriptionImpl: bytes at the address equal to
// the offset; an unmapped address is EIO, as on Linux.
func (fd *memFD) Read(ctx context.Context, dst vfs.IOSequence, offset int64, _ vfs.ReadOptions) (int64, error) {
	n := min(dst.NumBytes(), 1<<20)
	if n == 0 {
		return 0, nil
	}
	var got []byte
	withMM(fd.t, func(m *mm.MemoryManager) {
		buf := make([]byte, n)
		c, _ := m.CopyIn(uintptr(offset), buf)
		got = buf[:c]
	})
	if len(got) == 0 {
		return 0, linux.EIO
	}
	c, err := dst.CopyOut(ctx, got)
	if c > 0 {
		return int64(c), nil
	}
	return 0, err
}

// Seek implements vfs.Seeker: any address may be the offset.
func (fd *memFD) Seek(_ context.Context, offset int64, whence int32, cur int64) (int64, error) {
	switch whence {
	case linux.SEEK_SET:
		return offset, nil
	case linux.SEEK_CUR:
		return cur + offset, nil
	}
	return 0, linux.EINVAL
}
