package kernel

import (
	"errors"
	"io"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/loader"
	"appkernel.dev/appkernel/pkg/sentry/loader/vdso"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// VDSO is the kernel's vDSO: one image and one vvar page in the memory
// file, mapped into every address space at exec. A nil *VDSO means the
// architecture has none; every method then does nothing, and programs
// make real system calls.
type VDSO struct {
	inst  *vdso.Instance
	image []byte
}

// VDSOOptions configures NewVDSO.
type VDSOOptions struct {
	// TSCReliable is vdso.TSCReliable of the host's /proc/cpuinfo, read
	// by the caller before the Sentry is confined.
	TSCReliable bool
	// CoarseRes is vdso.CoarseResolution() of the host.
	CoarseRes int64
}

// NewVDSO builds the vDSO in mf and starts keeping its time data current.
// It returns nil and no error on architectures without a vDSO image.
func NewVDSO(mf *pgalloc.MemoryFile, opts VDSOOptions) (*VDSO, error) {
	inst, err := vdso.New(mf, vdso.Options{TSCReliable: opts.TSCReliable, CoarseRes: opts.CoarseRes})
	if errors.Is(err, vdso.ErrNoImage) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	img, err := vdso.Image()
	if err != nil {
		inst.Release()
		return nil, err
	}
	return &VDSO{inst: inst, image: img}, nil
}

// Release stops the vDSO's updater; call it when no address space is
// left.
func (v *VDSO) Release() {
	if v != nil {
		v.inst.Release()
	}
}

// loadFile is the loader's LoadArgs.VDSO: the image as a file, which the
// loader parses as an ELF object and then asks its Mapper to map. nil
// when there is no vDSO.
func (v *VDSO) loadFile() loader.File {
	if v == nil {
		return nil
	}
	return &vdsoFile{v: v}
}

// vdsoFile is the image, read-only, as the loader reads files.
type vdsoFile struct{ v *VDSO }

func (f *vdsoFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, linux.EINVAL
	}
	if off >= int64(len(f.v.image)) {
		return 0, io.EOF
	}
	n := copy(p, f.v.image[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *vdsoFile) Size() int64  { return int64(len(f.v.image)) }
func (f *vdsoFile) Mode() uint32 { return linux.S_IFREG | 0o555 }

// vdsoMapper is the exec mapper with the vDSO image mapped the way it must
// be: after its vvar page, from the shared memory-file pages, instead of
// as a private copy of a file.
type vdsoMapper struct {
	execMapper
}

// MapFile implements loader.Mapper.MapFile.
func (m vdsoMapper) MapFile(addr, length uintptr, f loader.File, offset int64, prot int, fixed bool) (uintptr, error) {
	vf, ok := f.(*vdsoFile)
	if !ok {
		return m.execMapper.MapFile(addr, length, f, offset, prot, fixed)
	}
	if offset != 0 || fixed || uint64(length) != vf.v.inst.ImageSize() {
		return 0, linux.EINVAL
	}
	return vf.v.mapInto(m.mm)
}

// mapInto maps the vvar page and, right after it, the image into m where
// mmap would place them, and returns the image's address.
//
// [vvar] is a shared read-only mapping of the one page the Sentry
// updates, so every process sees each update; mprotect cannot make it
// writable. [vdso] is a private mapping of the image pages, read+execute,
// which, as on Linux, a debugger may make writable to plant breakpoints:
// the write copies the page for that process alone.
func (v *VDSO) mapInto(m *mm.MemoryManager) (uintptr, error) {
	size := uintptr(v.inst.ImageSize())
	total := vdso.VVarSize + size
	base, err := m.MMap(mm.MMapOpts{
		Length:   total,
		Perms:    platform.Read,
		MaxPerms: platform.Read,
		Mappable: v.inst.Mappable(),
		Name:     "[vvar]",
	})
	if err != nil {
		return 0, err
	}
	text := base + vdso.VVarSize
	if _, err := m.MMap(mm.MMapOpts{
		Addr:     text,
		Length:   size,
		Fixed:    true,
		Private:  true,
		Perms:    platform.AccessType{Read: true, Execute: true},
		MaxPerms: platform.AnyAccess,
		Mappable: v.inst.Mappable(),
		Offset:   vdso.VVarSize,
		Name:     "[vdso]",
	}); err != nil {
		m.MUnmap(base, total)
		return 0, err
	}
	return text, nil
}

// now reads clock c as the vDSO would, so that system calls and vDSO
// calls agree; false when the vDSO does not answer for c.
func (v *VDSO) now(c int32) (int64, bool) {
	if v == nil || v.inst == nil {
		return 0, false
	}
	return v.inst.Now(c)
}
