package memmap

import (
	"fmt"
	"io"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// PageStore is a sparse, resizable byte array kept in memory-file pages,
// and a Mappable over it: the data of a tmpfs file, memfd or SysV shm
// segment. Pages are allocated on first write or fault; read(2)/write(2)
// (ReadAt/WriteAt) and shared mappings touch the same pages, so they are
// coherent.
//
// A PageStore is reference counted: its owner holds one reference (from
// NewPageStore) and every mapping holds one, so an unlinked, closed file
// stays usable through its mappings. Pages are freed when the last
// reference goes.
//
// +stateify savable
type PageStore struct {
	mf *pgalloc.MemoryFile

	mu sync.Mutex // +state:nosave

	// The fields below are guarded by mu.

	name string
	// size is the object's size in bytes.
	size uint64
	// pages maps a page index in the object to the memory-file offset of
	// the page holding it; the store holds one reference on each. Missing
	// pages are holes (zeros).
	pages map[uint64]uint64
	// mappings records where the store is mapped.
	mappings MappingSet
	// refs counts the owner's reference and mappings.
	refs int64
}

// maxFileSize is MAX_LFS_FILESIZE on 64-bit Linux.
const maxFileSize = 1<<63 - 1

// NewPageStore returns an empty store named name (see Mappable.Name),
// holding one reference for the caller.
func NewPageStore(mf *pgalloc.MemoryFile, name string) *PageStore {
	return &PageStore{mf: mf, name: name, pages: make(map[uint64]uint64), refs: 1}
}

// Name implements Mappable.Name.
func (s *PageStore) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// SetName changes what Name returns (after a rename, or "(deleted)").
func (s *PageStore) SetName(name string) {
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
}

// IncRef takes a reference on the store.
func (s *PageStore) IncRef() {
	s.mu.Lock()
	if s.refs <= 0 {
		s.mu.Unlock()
		panic("memmap: IncRef of a released PageStore")
	}
	s.refs++
	s.mu.Unlock()
}

// DecRef drops a reference; the last one frees every page.
func (s *PageStore) DecRef() {
	s.mu.Lock()
	s.refs--
	if s.refs > 0 {
		s.mu.Unlock()
		return
	}
	if s.refs < 0 {
		s.mu.Unlock()
		panic("memmap: DecRef of a released PageStore")
	}
	pages := s.pages
	s.pages = nil
	s.size = 0
	s.mu.Unlock()
	for _, off := range pages {
		s.mf.DecRef(pgalloc.Range{Start: off, End: off + PageSize})
	}
}

// Size returns the object's size.
func (s *PageStore) Size() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Usage returns the bytes of memory-file pages the store holds (for
// st_blocks and shm accounting).
func (s *PageStore) Usage() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.pages)) * PageSize
}

// ReadAt reads from the object at off, like pread(2) on a file: it stops at
// the end of the object, returning io.EOF if it read nothing there.
func (s *PageStore) ReadAt(dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, linux.EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if uint64(off) >= s.size {
		return 0, io.EOF
	}
	if rem := s.size - uint64(off); uint64(len(dst)) > rem {
		dst = dst[:rem]
	}
	done := 0
	for done < len(dst) {
		pos := uint64(off) + uint64(done)
		inPage := pos % PageSize
		n := min(uint64(len(dst)-done), PageSize-inPage)
		if fo, ok := s.pages[pos/PageSize]; ok {
			copy(dst[done:], s.mf.Slice(pgalloc.Range{Start: fo + inPage, End: fo + inPage + n}))
		} else {
			clear(dst[done : done+int(n)])
		}
		done += int(n)
	}
	return done, nil
}

// WriteAt writes src at off, like pwrite(2), extending the object if the
// write ends past its end.
func (s *PageStore) WriteAt(src []byte, off int64) (int, error) {
	if off < 0 {
		return 0, linux.EINVAL
	}
	end := uint64(off) + uint64(len(src))
	if end < uint64(off) || end > maxFileSize {
		return 0, linux.EFBIG
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages == nil {
		return 0, linux.EIO
	}
	done := 0
	for done < len(src) {
		pos := uint64(off) + uint64(done)
		inPage := pos % PageSize
		n := min(uint64(len(src)-done), PageSize-inPage)
		fo, err := s.pageLocked(pos / PageSize)
		if err != nil {
			if done > 0 {
				break
			}
			return 0, err
		}
		copy(s.mf.Slice(pgalloc.Range{Start: fo + inPage, End: fo + inPage + n}), src[done:])
		done += int(n)
	}
	if e := uint64(off) + uint64(done); e > s.size {
		s.size = e
	}
	return done, nil
}

// pageLocked returns the memory-file offset of page idx, allocating it if
// it is a hole.
func (s *PageStore) pageLocked(idx uint64) (uint64, error) {
	if fo, ok := s.pages[idx]; ok {
		return fo, nil
	}
	r, err := s.mf.Allocate(PageSize)
	if err != nil {
		return 0, linux.ENOMEM
	}
	s.pages[idx] = r.Start
	return r.Start, nil
}

// Truncate sets the object's size. Bytes past a shrunk end are discarded,
// so growing again reads zeros there, and every mapping of the discarded
// pages is invalidated (accesses past the new end raise SIGBUS).
func (s *PageStore) Truncate(size uint64) error {
	if size > maxFileSize {
		return linux.EFBIG
	}
	s.mu.Lock()
	if s.pages == nil {
		s.mu.Unlock()
		return linux.EIO
	}
	old := s.size
	s.size = size
	if size >= old {
		s.mu.Unlock()
		return nil
	}
	// The partial page at the new end stays, but its tail must read as
	// zeros if the object grows again.
	if in := size % PageSize; in != 0 {
		if fo, ok := s.pages[size/PageSize]; ok {
			clear(s.mf.Slice(pgalloc.Range{Start: fo + in, End: fo + PageSize}))
		}
	}
	firstGone := (size + PageSize - 1) / PageSize
	var dead []uint64
	for idx, fo := range s.pages {
		if idx >= firstGone {
			dead = append(dead, fo)
			delete(s.pages, idx)
		}
	}
	inv := s.mappings.Affected(firstGone*PageSize, ^uint64(0))
	s.mu.Unlock()

	for _, i := range inv {
		i.MS.Invalidate(i.AR)
	}
	for _, fo := range dead {
		s.mf.DecRef(pgalloc.Range{Start: fo, End: fo + PageSize})
	}
	return nil
}

// Allocate makes sure the pages of [off, off+length) exist and grows the
// object to cover them, like fallocate(2) mode 0.
func (s *PageStore) Allocate(off, length uint64) error {
	end := off + length
	if end < off || end > maxFileSize {
		return linux.EFBIG
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages == nil {
		return linux.EIO
	}
	for idx := off / PageSize; idx*PageSize < end; idx++ {
		if _, err := s.pageLocked(idx); err != nil {
			return err
		}
	}
	if end > s.size {
		s.size = end
	}
	return nil
}

// AddMapping implements Mappable.AddMapping.
func (s *PageStore) AddMapping(ms MappingSpace, ar AddrRange, offset uint64, writable bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs <= 0 {
		return linux.EIO
	}
	s.mappings.Add(ms, ar, offset, writable)
	s.refs++
	return nil
}

// RemoveMapping implements Mappable.RemoveMapping.
func (s *PageStore) RemoveMapping(ms MappingSpace, ar AddrRange, offset uint64, writable bool) {
	s.mu.Lock()
	s.mappings.Remove(ms, ar, offset, writable)
	s.mu.Unlock()
	s.DecRef()
}

// Mapped reports whether the store has any mappings, and any writable ones
// (memfd F_SEAL_WRITE must fail with EBUSY while a writable one exists).
func (s *PageStore) Mapped() (any, writable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mappings.Len() > 0, s.mappings.HasWritable()
}

// GetPages implements Mappable.GetPages.
func (s *PageStore) GetPages(offset uint64, pages []uint64, write bool) (int, error) {
	if offset%PageSize != 0 {
		panic(fmt.Sprintf("memmap: GetPages at unaligned offset %#x", offset))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages == nil {
		return 0, ErrBeyondEOF
	}
	for i := range pages {
		pos := offset + uint64(i)*PageSize
		if pos >= s.size {
			return i, ErrBeyondEOF
		}
		fo, err := s.pageLocked(pos / PageSize)
		if err != nil {
			return i, err
		}
		s.mf.IncRef(pgalloc.Range{Start: fo, End: fo + PageSize})
		pages[i] = fo
	}
	return len(pages), nil
}
