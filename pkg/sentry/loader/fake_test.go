package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

const page = linux.PageSize

// fakeMapping is one mapping of the fake address space.
type fakeMapping struct {
	start, end uint64
	prot       int
	file       File // nil for anonymous memory
	off        int64
	growsDown  bool
}

// fakeMM is a Mapper over a sparse, byte-addressable fake memory. File
// mappings are copied in eagerly (private semantics); anonymous pages
// exist only once written.
type fakeMM struct {
	maps     []fakeMapping // sorted, non-overlapping
	pages    map[uint64][]byte
	mmapBase uint64
	taskSize uint64
	brk      uint64
	brkSet   bool
	// copied counts bytes materialised, to catch runaway allocation.
	copied uint64
}

func newFakeMM() *fakeMM {
	return &fakeMM{pages: map[uint64][]byte{}, mmapBase: 0x7ffff7fff000, taskSize: amd64Params.taskSize}
}

func (m *fakeMM) remove(start, end uint64) {
	var out []fakeMapping
	for _, v := range m.maps {
		if v.end <= start || v.start >= end {
			out = append(out, v)
			continue
		}
		if v.start < start {
			l := v
			l.end = start
			out = append(out, l)
		}
		if v.end > end {
			r := v
			if r.file != nil {
				r.off += int64(end - v.start)
			}
			r.start = end
			out = append(out, r)
		}
	}
	m.maps = out
	if (end-start)/page > uint64(len(m.pages)) {
		for a := range m.pages {
			if a >= start && a < end {
				delete(m.pages, a)
			}
		}
		return
	}
	for a := start; a < end; a += page {
		delete(m.pages, a)
	}
}

func (m *fakeMM) free(start, end uint64) bool {
	if end > m.taskSize || start >= end {
		return false
	}
	for _, v := range m.maps {
		if v.start < end && start < v.end {
			return false
		}
	}
	return true
}

func (m *fakeMM) place(addr, length uint64, fixed bool) (uint64, error) {
	if addr%page != 0 || length%page != 0 || length == 0 {
		return 0, linux.EINVAL
	}
	if fixed {
		if addr+length < addr || addr+length > m.taskSize {
			return 0, linux.ENOMEM
		}
		m.remove(addr, addr+length)
		return addr, nil
	}
	if addr != 0 && addr+length > addr && m.free(addr, addr+length) {
		return addr, nil
	}
	// Top-down first fit below the mmap base.
	if length > m.mmapBase {
		return 0, linux.ENOMEM
	}
	cand := m.mmapBase - length
	for {
		ok := true
		for _, v := range m.maps {
			if v.start < cand+length && cand < v.end {
				if v.start < length {
					return 0, linux.ENOMEM
				}
				cand = v.start - length
				ok = false
			}
		}
		if ok {
			return cand, nil
		}
	}
}

func (m *fakeMM) insert(v fakeMapping) {
	m.maps = append(m.maps, v)
	sort.Slice(m.maps, func(i, j int) bool { return m.maps[i].start < m.maps[j].start })
}

func (m *fakeMM) MapFile(addr, length uintptr, f File, offset int64, prot int, fixed bool) (uintptr, error) {
	if offset%page != 0 {
		return 0, linux.EINVAL
	}
	a, err := m.place(uint64(addr), uint64(length), fixed)
	if err != nil {
		return 0, err
	}
	m.insert(fakeMapping{start: a, end: a + uint64(length), prot: prot, file: f, off: offset})
	size := f.Size()
	for p := uint64(0); p < uint64(length) && offset+int64(p) < size; p += page {
		b := make([]byte, page)
		n, err := f.ReadAt(b, offset+int64(p))
		if n == 0 && err != nil && err != io.EOF {
			return 0, err
		}
		m.pages[a+p] = b
		m.copied += page
	}
	return uintptr(a), nil
}

func (m *fakeMM) MapAnon(addr, length uintptr, prot int, fixed, growsDown bool) (uintptr, error) {
	a, err := m.place(uint64(addr), uint64(length), fixed)
	if err != nil {
		return 0, err
	}
	m.insert(fakeMapping{start: a, end: a + uint64(length), prot: prot, growsDown: growsDown})
	return uintptr(a), nil
}

func (m *fakeMM) Unmap(addr, length uintptr) error {
	m.remove(uint64(addr), uint64(addr+length))
	return nil
}

func (m *fakeMM) find(addr uint64) *fakeMapping {
	for i := range m.maps {
		if m.maps[i].start <= addr && addr < m.maps[i].end {
			return &m.maps[i]
		}
	}
	return nil
}

func (m *fakeMM) write(addr uint64, src []byte, zero bool, n uint64) error {
	for i := uint64(0); i < n; i++ {
		a := addr + i
		v := m.find(a)
		if v == nil || v.prot&linux.PROT_WRITE == 0 {
			return linux.EFAULT
		}
		pg := m.pages[a&^(page-1)]
		if pg == nil {
			pg = make([]byte, page)
			m.pages[a&^(page-1)] = pg
			m.copied += page
		}
		if zero {
			pg[a%page] = 0
		} else {
			pg[a%page] = src[i]
		}
	}
	return nil
}

func (m *fakeMM) CopyOut(addr uintptr, src []byte) error {
	return m.write(uint64(addr), src, false, uint64(len(src)))
}

func (m *fakeMM) ZeroOut(addr, length uintptr) error {
	return m.write(uint64(addr), nil, true, uint64(length))
}

func (m *fakeMM) SetBrkStart(addr uintptr) { m.brk, m.brkSet = uint64(addr), true }

// read returns n bytes at addr, which must be mapped.
func (m *fakeMM) read(addr, n uint64) ([]byte, error) {
	out := make([]byte, n)
	for i := uint64(0); i < n; i++ {
		a := addr + i
		if m.find(a) == nil {
			return nil, fmt.Errorf("read of unmapped %#x", a)
		}
		if pg := m.pages[a&^(page-1)]; pg != nil {
			out[i] = pg[a%page]
		}
	}
	return out, nil
}

func (m *fakeMM) u64(t *testing.T, addr uint64) uint64 {
	t.Helper()
	b, err := m.read(addr, 8)
	if err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(b)
}

func (m *fakeMM) cstring(t *testing.T, addr uint64) string {
	t.Helper()
	var out []byte
	for {
		b, err := m.read(addr, 1)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] == 0 {
			return string(out)
		}
		out = append(out, b[0])
		addr++
		if len(out) > 1<<20 {
			t.Fatal("unterminated string")
		}
	}
}

// memFile is an in-memory File.
type memFile struct {
	data []byte
	mode uint32
}

func (f *memFile) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.EOF
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(b, f.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}
func (f *memFile) Size() int64  { return int64(len(f.data)) }
func (f *memFile) Mode() uint32 { return f.mode }

func newMemFile(b []byte) *memFile { return &memFile{data: b, mode: linux.S_IFREG | 0o755} }

// hostFile is a File over a host file.
type hostFile struct {
	*os.File
	size int64
	mode uint32
}

func (f *hostFile) Size() int64  { return f.size }
func (f *hostFile) Mode() uint32 { return f.mode }

func openHost(t testing.TB, path string) *hostFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	mode := uint32(st.Mode().Perm())
	if st.Mode().IsRegular() {
		mode |= linux.S_IFREG
	}
	return &hostFile{File: f, size: st.Size(), mode: mode}
}

// hostOpener opens paths under root on the host.
type hostOpener struct {
	t    testing.TB
	root string
}

func (o hostOpener) Open(p string) (File, error) {
	full := filepath.Join(o.root, p)
	if _, err := os.Stat(full); err != nil {
		return nil, linux.ENOENT
	}
	return openHost(o.t, full), nil
}

// mapOpener serves in-memory files by path.
type mapOpener map[string]File

func (o mapOpener) Open(p string) (File, error) {
	if f, ok := o[p]; ok {
		return f, nil
	}
	return nil, linux.ENOENT
}

// counterRand is a deterministic byte stream 0, 1, 2, ...
type counterRand struct{ n byte }

func (r *counterRand) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = r.n
		r.n++
	}
	return len(b), nil
}

// testELF builds a minimal ELF64 file: a header, the program headers right
// after it, and body at bodyOff.
type testELF struct {
	machine uint16
	typ     uint16
	entry   uint64
	phdrs   []linux.ElfProg64
	bodyOff uint64
	body    []byte
}

func (e testELF) bytes() []byte {
	machine := e.machine
	if machine == 0 {
		machine = linux.EM_X86_64
	}
	typ := e.typ
	if typ == 0 {
		typ = linux.ET_EXEC
	}
	h := linux.ElfHeader64{
		Type: typ, Machine: machine, Version: 1, Entry: e.entry,
		Phoff: linux.SizeofElfHeader64, Ehsize: linux.SizeofElfHeader64,
		Phentsize: linux.SizeofElfProg64, Phnum: uint16(len(e.phdrs)),
	}
	copy(h.Ident[:], linux.ELFMAG)
	h.Ident[linux.EI_CLASS] = linux.ELFCLASS64
	h.Ident[linux.EI_DATA] = linux.ELFDATA2LSB
	h.Ident[linux.EI_VERSION] = 1
	size := uint64(linux.SizeofElfHeader64 + len(e.phdrs)*linux.SizeofElfProg64)
	if e.bodyOff+uint64(len(e.body)) > size {
		size = e.bodyOff + uint64(len(e.body))
	}
	out := make([]byte, size)
	h.MarshalBytes(out)
	for i := range e.phdrs {
		e.phdrs[i].MarshalBytes(out[linux.SizeofElfHeader64+i*linux.SizeofElfProg64:])
	}
	copy(out[e.bodyOff:], e.body)
	return out
}

// simpleELF is a valid static ET_EXEC: one r-x page of code and a rw-
// segment with 0x100 bytes of data then bss, its last file page filled
// with 0xAA garbage past the data.
func simpleELF() testELF {
	body := bytes.Repeat([]byte{0xAA}, 2*page)
	return testELF{
		entry:   0x401000,
		bodyOff: page,
		body:    body,
		phdrs: []linux.ElfProg64{
			{Type: linux.PT_LOAD, Flags: linux.PF_R | linux.PF_X, Off: 0, Vaddr: 0x400000, Filesz: 2 * page, Memsz: 2 * page, Align: page},
			{Type: linux.PT_LOAD, Flags: linux.PF_R | linux.PF_W, Off: 2 * page, Vaddr: 0x602000, Filesz: 0x100, Memsz: 3 * page, Align: page},
			{Type: linux.PT_GNU_STACK, Flags: linux.PF_R | linux.PF_W},
		},
	}
}

func baseArgs(f File, mm *fakeMM, o Opener) *LoadArgs {
	return &LoadArgs{
		File:     f,
		Filename: "/prog",
		Argv:     []string{"prog", "a1"},
		Envv:     []string{"HOME=/", "X=y"},
		Opener:   o,
		Mapper:   mm,
		Layout: Layout{
			StackTop:   0x7ffffffff000,
			StackLimit: 8 << 20,
		},
		Rand:   &counterRand{},
		Creds:  Creds{UID: 1, EUID: 2, GID: 3, EGID: 4},
		HWCap:  0x178bfbff,
		HWCap2: 2,
	}
}

func errorsAs(err error, e *linux.Errno) bool { return errors.As(err, e) }
