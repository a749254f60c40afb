package kernel

import (
	"context"
	"errors"
	"io"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/loader"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// execFile is an executable opened through the VFS, as the loader reads
// it.
type execFile struct {
	ctx  context.Context
	fd   *vfs.FileDescription
	size int64
	mode uint32
}

func (f *execFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.fd.PRead(f.ctx, vfs.BytesIOSequence(p), off, vfs.ReadOptions{})
	if err == nil && int(n) < len(p) {
		err = io.EOF
	}
	return int(n), err
}

func (f *execFile) Size() int64  { return f.size }
func (f *execFile) Mode() uint32 { return f.mode }

// execOpener resolves executables and interpreters in a task's file
// system view, with execve's checks.
type execOpener struct {
	ctx   context.Context
	vfs   *vfs.VirtualFilesystem
	creds *auth.Credentials
	root  vfs.VirtualDentry
	cwd   vfs.VirtualDentry
	// opened collects every file, released when the exec is over.
	opened []*vfs.FileDescription
}

func (o *execOpener) Open(path string) (loader.File, error) {
	pop := &vfs.PathOperation{Root: o.root, Start: o.cwd, Path: path, FollowFinalSymlink: true}
	if err := o.vfs.AccessAt(o.ctx, o.creds, pop, auth.MayExec); err != nil {
		return nil, err
	}
	fd, err := o.vfs.OpenAt(o.ctx, o.creds, pop, &vfs.OpenOptions{Flags: linux.O_RDONLY})
	if err != nil {
		return nil, err
	}
	o.opened = append(o.opened, fd)
	if fd.Mount().Flags()&linux.MS_NOEXEC != 0 {
		return nil, linux.EACCES
	}
	st, err := fd.Stat(o.ctx, vfs.StatOptions{Mask: linux.STATX_TYPE | linux.STATX_MODE | linux.STATX_SIZE})
	if err != nil {
		return nil, err
	}
	return &execFile{ctx: o.ctx, fd: fd, size: int64(st.Size), mode: uint32(st.Mode)}, nil
}

func (o *execOpener) release() {
	for _, fd := range o.opened {
		fd.DecRef(o.ctx)
	}
	o.opened = nil
}

// execMapper builds a new address space for the loader.
type execMapper struct{ mm *mm.MemoryManager }

// MapFile maps the file privately, as mmap(MAP_PRIVATE) of it would, so
// that the image is a file mapping like on Linux: MADV_DONTNEED on it
// (or on a page a debugger wrote to) brings back the file's bytes rather
// than zeros. A file whose file system cannot be mapped (ENODEV) gets a
// private anonymous copy of its bytes instead.
func (m execMapper) MapFile(addr, length uintptr, f loader.File, offset int64, prot int, fixed bool) (uintptr, error) {
	if ef, ok := f.(*execFile); ok && offset >= 0 {
		opts := mm.MMapOpts{
			Addr: addr, Length: length, Fixed: fixed, Private: true,
			Perms: accessFromProt(prot), MaxPerms: platform.AnyAccess,
			Offset: uint64(offset),
		}
		switch err := ef.fd.ConfigureMMap(ef.ctx, &opts); {
		case err == nil:
			return m.mm.MMap(opts)
		case !errors.Is(err, linux.ENODEV):
			return 0, err
		}
	}
	return m.mapCopy(addr, length, f, offset, prot, fixed)
}

// mapCopy maps a private anonymous copy of the file's bytes.
func (m execMapper) mapCopy(addr, length uintptr, f loader.File, offset int64, prot int, fixed bool) (uintptr, error) {
	at, err := m.mm.MMap(mm.MMapOpts{
		Addr: addr, Length: length, Fixed: fixed, Private: true,
		Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess,
	})
	if err != nil {
		return 0, err
	}
	n := int64(length)
	if rest := f.Size() - offset; rest < n {
		n = max(rest, 0)
	}
	if n > 0 {
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, offset); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if _, err := m.mm.CopyOut(at, buf); err != nil {
			return 0, err
		}
	}
	if err := m.mm.MProtect(at, length, prot); err != nil {
		return 0, err
	}
	return at, nil
}

func (m execMapper) MapAnon(addr, length uintptr, prot int, fixed, growsDown bool) (uintptr, error) {
	return m.mm.MMap(mm.MMapOpts{
		Addr: addr, Length: length, Fixed: fixed, Private: true, GrowsDown: growsDown,
		Perms: accessFromProt(prot), MaxPerms: platform.AnyAccess,
	})
}

func (m execMapper) Unmap(addr, length uintptr) error { return m.mm.MUnmap(addr, length) }

func (m execMapper) CopyOut(addr uintptr, src []byte) error {
	_, err := m.mm.CopyOut(addr, src)
	return err
}

func (m execMapper) ZeroOut(addr, length uintptr) error {
	_, err := m.mm.ZeroOut(addr, int(length))
	return err
}

func (m execMapper) SetBrkStart(addr uintptr) { m.mm.BrkSetup(addr) }

func accessFromProt(prot int) platform.AccessType {
	return platform.AccessType{
		Read:    prot&linux.PROT_READ != 0,
		Write:   prot&linux.PROT_WRITE != 0,
		Execute: prot&linux.PROT_EXEC != 0,
	}
}
