package kernel

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/loader"
	"appkernel.dev/appkernel/pkg/sentry/loader/vdso"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/mm/mmtest"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// bytesFile is an executable held in memory.
type bytesFile struct{ b []byte }

func (f bytesFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.b)) {
		return 0, io.EOF
	}
	n := copy(p, f.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
func (f bytesFile) Size() int64  { return int64(len(f.b)) }
func (f bytesFile) Mode() uint32 { return linux.S_IFREG | 0o755 }

func newTestVDSO(t *testing.T) (*pgalloc.MemoryFile, *VDSO) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("no vDSO image on " + runtime.GOARCH)
	}
	mf, err := pgalloc.New(pgalloc.Options{Name: "vdso-kernel-test", MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mf.Destroy)
	v, err := NewVDSO(mf, VDSOOptions{TSCReliable: true, CoarseRes: vdso.CoarseResolution()})
	if err != nil || v == nil {
		t.Fatalf("NewVDSO: %v, %v", v, err)
	}
	t.Cleanup(v.Release)
	return mf, v
}

func newTestMM(t *testing.T, mf *pgalloc.MemoryFile) *mm.MemoryManager {
	m, err := mm.New(mf, func() (platform.AddressSpace, error) { return mmtest.NewFakeAddressSpace(), nil })
	if err != nil {
		t.Fatal(err)
	}
	m.SetMmapLayout(mm.NewMmapLayout(1<<47-linux.PageSize, 8<<20, false))
	t.Cleanup(m.DecUsers)
	return m
}

// TestVDSOLoad runs the loader with the vDSO hook: the loader accepts the
// image, and the address it announces in AT_SYSINFO_EHDR holds the image
// right after the shared vvar page, both named in /proc/PID/maps.
func TestVDSOLoad(t *testing.T) {
	mf, v := newTestVDSO(t)
	m := newTestMM(t, mf)
	img, _ := vdso.Image()
	layout := mm.NewMmapLayout(1<<47-linux.PageSize, 8<<20, false)
	// The image is itself a valid static ET_DYN to run; it stands in for
	// a program.
	res, err := loader.Load(&loader.LoadArgs{
		File:     bytesFile{img},
		Filename: "/prog",
		Argv:     []string{"prog"},
		Mapper:   vdsoMapper{execMapper{m}},
		Layout:   loader.Layout{StackTop: layout.StackTop, StackLimit: 8 << 20},
		Rand:     rand.Reader,
		VDSO:     v.loadFile(),
	})
	if err != nil {
		t.Fatal(err)
	}
	base := uintptr(res.VDSOBase)
	if base == 0 || base%linux.PageSize != 0 {
		t.Fatalf("VDSOBase %#x", base)
	}
	var ehdr uint64
	for _, a := range res.Auxv {
		if a.Key == linux.AT_SYSINFO_EHDR {
			ehdr = a.Value
		}
	}
	if ehdr != uint64(base) {
		t.Errorf("AT_SYSINFO_EHDR %#x, vDSO at %#x", ehdr, base)
	}
	got := make([]byte, len(img))
	if _, err := m.CopyIn(base, got); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("image at %#x differs (%v)", base, err)
	}
	var seq [8]byte
	if _, err := m.CopyIn(base-vdso.VVarSize, seq[:]); err != nil {
		t.Fatalf("vvar unreadable: %v", err)
	}
	maps := string(m.Maps())
	var vvarLine, vdsoLine string
	for _, l := range strings.Split(maps, "\n") {
		switch {
		case strings.HasSuffix(l, "[vvar]"):
			vvarLine = l
		case strings.HasSuffix(l, "[vdso]"):
			vdsoLine = l
		}
	}
	if !strings.HasPrefix(vvarLine, hex(base-vdso.VVarSize)+"-"+hex(base)+" r--s") {
		t.Errorf("vvar line %q in\n%s", vvarLine, maps)
	}
	if !strings.HasPrefix(vdsoLine, hex(base)+"-"+hex(base+uintptr(v.inst.ImageSize()))+" r-xp") {
		t.Errorf("vdso line %q in\n%s", vdsoLine, maps)
	}
}

func hex(a uintptr) string {
	const digits = "0123456789abcdef"
	var b []byte
	for ; a != 0; a >>= 4 {
		b = append([]byte{digits[a&15]}, b...)
	}
	for len(b) < 8 {
		b = append([]byte{'0'}, b...)
	}
	return string(b)
}

// TestVDSOSharedAndProtected: the vvar page is the same page in every
// address space, forks included, and nobody can write it; the image is
// private, so a debugger's write stays in one process.
func TestVDSOSharedAndProtected(t *testing.T) {
	mf, v := newTestVDSO(t)
	a, b := newTestMM(t, mf), newTestMM(t, mf)
	baseA, err := v.mapInto(a)
	if err != nil {
		t.Fatal(err)
	}
	baseB, err := v.mapInto(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer c.DecUsers()

	readSeq := func(m *mm.MemoryManager, base uintptr) []byte {
		buf := make([]byte, vdso.VVarSize)
		if _, err := m.CopyIn(base-vdso.VVarSize, buf); err != nil {
			t.Fatal(err)
		}
		return buf
	}
	// Fault the pages in, then republish: every space sees the update.
	readSeq(a, baseA)
	readSeq(c, baseA)
	if err := v.inst.Update(vdso.DefaultPeriod); err != nil {
		t.Fatal(err)
	}
	want := vdso.Read(v.inst.VVar())
	for i, got := range [][]byte{readSeq(a, baseA), readSeq(b, baseB), readSeq(c, baseA)} {
		if p := vdso.Read(got); p != want {
			t.Errorf("space %d sees %+v, want %+v", i, p, want)
		}
	}

	if err := a.MProtect(baseA-vdso.VVarSize, vdso.VVarSize, linux.PROT_READ|linux.PROT_WRITE); !errors.Is(err, linux.EACCES) {
		t.Errorf("mprotect(vvar, RW) = %v, want EACCES", err)
	}
	if _, err := a.CopyOut(baseA-vdso.VVarSize, []byte{1}); err == nil {
		t.Error("wrote the vvar page")
	}

	if err := a.MProtect(baseA, linux.PageSize, linux.PROT_READ|linux.PROT_WRITE|linux.PROT_EXEC); err != nil {
		t.Fatalf("mprotect(vdso, RWX): %v", err)
	}
	if _, err := a.CopyOut(baseA, []byte{0xcc}); err != nil {
		t.Fatal(err)
	}
	img, _ := vdso.Image()
	var first [1]byte
	if _, err := b.CopyIn(baseB, first[:]); err != nil || first[0] != img[0] || img[0] == 0xcc {
		t.Errorf("a write to one process's vDSO reached another: %#x", first[0])
	}
	if _, err := c.CopyIn(baseA, first[:]); err != nil || first[0] != img[0] {
		t.Errorf("a write to the parent's vDSO reached its fork: %#x", first[0])
	}
}

func TestVDSOFileAndNil(t *testing.T) {
	var none *VDSO
	if none.loadFile() != nil {
		t.Error("nil VDSO gave a file")
	}
	none.Release()
	_, v := newTestVDSO(t)
	f := v.loadFile()
	img, _ := vdso.Image()
	if f.Size() != int64(len(img)) || f.Mode()&linux.S_IFMT != linux.S_IFREG {
		t.Errorf("size %d mode %#o", f.Size(), f.Mode())
	}
	buf := make([]byte, 16)
	if n, err := f.ReadAt(buf, int64(len(img))-8); n != 8 || err != io.EOF || !bytes.Equal(buf[:8], img[len(img)-8:]) {
		t.Errorf("ReadAt at the end: %d, %v", n, err)
	}
	if _, err := (vdsoMapper{}).MapFile(0, linux.PageSize, f, 0, linux.PROT_READ, true); !errors.Is(err, linux.EINVAL) {
		t.Errorf("fixed vDSO mapping: %v", err)
	}
}
