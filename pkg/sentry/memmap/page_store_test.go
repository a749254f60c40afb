package memmap

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

func newMF(t *testing.T) *pgalloc.MemoryFile {
	t.Helper()
	mf, err := pgalloc.New(pgalloc.Options{MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mf.Destroy)
	return mf
}

type fakeSpace struct{ inv []AddrRange }

func (f *fakeSpace) Invalidate(ar AddrRange) { f.inv = append(f.inv, ar) }

func TestPageStoreReadWrite(t *testing.T) {
	mf := newMF(t)
	s := NewPageStore(mf, "/f")
	if _, err := s.ReadAt(make([]byte, 1), 0); err != io.EOF {
		t.Fatalf("read of empty: %v", err)
	}
	msg := []byte("hello, pages")
	if n, err := s.WriteAt(msg, PageSize-5); n != len(msg) || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	if s.Size() != PageSize-5+uint64(len(msg)) {
		t.Fatalf("size %d", s.Size())
	}
	// The first page is partly a hole: zeros before the data.
	buf := make([]byte, 2*PageSize)
	n, err := s.ReadAt(buf, 0)
	if err != nil || n != int(s.Size()) {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if !bytes.Equal(buf[PageSize-5:n], msg) || buf[0] != 0 {
		t.Fatal("contents wrong")
	}
	if s.Usage() != 2*PageSize {
		t.Fatalf("usage %d", s.Usage())
	}
	s.DecRef()
	if mf.Allocated() != 0 {
		t.Fatalf("leak %d", mf.Allocated())
	}
}

func TestPageStoreTruncateAndPages(t *testing.T) {
	mf := newMF(t)
	s := NewPageStore(mf, "/f")
	s.WriteAt(bytes.Repeat([]byte{7}, 3*PageSize), 0)
	ms := &fakeSpace{}
	ar := AddrRange{0x10000, 0x10000 + 4*PageSize}
	if err := s.AddMapping(ms, ar, 0, true); err != nil {
		t.Fatal(err)
	}
	pages := make([]uint64, 4)
	n, err := s.GetPages(0, pages, false)
	if n != 3 || !errors.Is(err, ErrBeyondEOF) {
		t.Fatalf("GetPages = %d, %v", n, err)
	}
	// Mapped pages and ReadAt see the same bytes.
	mf.Slice(pgalloc.Range{Start: pages[1], End: pages[1] + 1})[0] = 9
	b := make([]byte, 1)
	s.ReadAt(b, PageSize)
	if b[0] != 9 {
		t.Fatal("GetPages page is not the file's page")
	}
	for _, p := range pages[:n] {
		mf.DecRef(pgalloc.Range{Start: p, End: p + PageSize})
	}

	if err := s.Truncate(PageSize + 10); err != nil {
		t.Fatal(err)
	}
	want := AddrRange{0x10000 + 2*PageSize, 0x10000 + 4*PageSize}
	if len(ms.inv) != 1 || ms.inv[0] != want {
		t.Fatalf("invalidations %v, want %v", ms.inv, want)
	}
	if s.Usage() != 2*PageSize {
		t.Fatalf("usage after truncate %d", s.Usage())
	}
	// Growing again exposes zeros past the old end, even within the page.
	s.Truncate(3 * PageSize)
	b = make([]byte, 20)
	s.ReadAt(b, PageSize)
	if b[0] != 9 || !bytes.Equal(b[1:10], bytes.Repeat([]byte{7}, 9)) || !bytes.Equal(b[10:], make([]byte, 10)) {
		t.Fatalf("after shrink+grow: %v", b)
	}
	s.DecRef() // owner's reference; the mapping keeps it alive
	if _, err := s.GetPages(0, pages[:1], false); err != nil {
		t.Fatalf("store died with a mapping left: %v", err)
	}
	mf.DecRef(pgalloc.Range{Start: pages[0], End: pages[0] + PageSize})
	s.RemoveMapping(ms, ar, 0, true)
	if mf.Allocated() != 0 {
		t.Fatalf("leak %d", mf.Allocated())
	}
}
