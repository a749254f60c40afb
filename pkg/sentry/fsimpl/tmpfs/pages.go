package tmpfs

import (
	"context"
	"math"
	"slices"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// pageStore holds a file's data as a sparse set of pages: unwritten
// ranges (holes) read as zeros and take no memory. It is the small store
// that will give way to the memory file once mmap needs coherence with
// read and write; nothing outside regular_file.go and this file sees it.
//
// +stateify savable
type pageStore struct {
	pages map[uint64]*[linux.PageSize]byte
}

const maxFileSize = math.MaxInt64

func (s *pageStore) count() uint64 { return uint64(len(s.pages)) }

// read copies [off, off+dst.NumBytes()) clipped to size into dst.
func (s *pageStore) read(ctx context.Context, dst vfs.IOSequence, off int64, size uint64) (int64, error) {
	if off < 0 || uint64(off) >= size {
		return 0, nil
	}
	end := min(uint64(off)+uint64(dst.NumBytes()), size)
	var zeros [linux.PageSize]byte
	var done int64
	for pos := uint64(off); pos < end; {
		idx, pgoff := pos/linux.PageSize, pos%linux.PageSize
		n := min(end-pos, linux.PageSize-pgoff)
		src := zeros[:]
		if p := s.pages[idx]; p != nil {
			src = p[:]
		}
		c, err := dst.CopyOut(ctx, src[pgoff:pgoff+n])
		done += int64(c)
		if err != nil {
			return done, err
		}
		if uint64(c) < n {
			return done, linux.EFAULT
		}
		dst = dst.DropFirst(int64(c))
		pos += n
	}
	return done, nil
}

// write copies src to [off, ...), allocating pages through charge.
func (s *pageStore) write(ctx context.Context, src vfs.IOSequence, off int64, charge func(uint64) error) (int64, error) {
	count := src.NumBytes()
	if count > maxFileSize-off {
		if off >= maxFileSize {
			return 0, linux.EFBIG
		}
		count = maxFileSize - off
	}
	var done int64
	for done < count {
		pos := uint64(off + done)
		idx, pgoff := pos/linux.PageSize, pos%linux.PageSize
		n := min(uint64(count-done), linux.PageSize-pgoff)
		p := s.pages[idx]
		if p == nil {
			if err := charge(1); err != nil {
				return done, err
			}
			p = new([linux.PageSize]byte)
			if s.pages == nil {
				s.pages = make(map[uint64]*[linux.PageSize]byte)
			}
			s.pages[idx] = p
		}
		c, err := src.CopyIn(ctx, p[pgoff:pgoff+n])
		done += int64(c)
		if err != nil {
			return done, err
		}
		if uint64(c) < n {
			return done, linux.EFAULT
		}
		src = src.DropFirst(int64(c))
	}
	return done, nil
}

// truncate drops data at and beyond size, zeroing the tail of the last
// partial page so that a later extension reads zeros. It returns how
// many pages were freed.
func (s *pageStore) truncate(size uint64) (freed uint64) {
	first := (size + linux.PageSize - 1) / linux.PageSize
	for idx := range s.pages {
		if idx >= first {
			delete(s.pages, idx)
			freed++
		}
	}
	if pgoff := size % linux.PageSize; pgoff != 0 {
		if p := s.pages[size/linux.PageSize]; p != nil {
			clear(p[pgoff:])
		}
	}
	return freed
}

// allocate makes sure [off, off+length) has pages.
func (s *pageStore) allocate(off, length uint64, charge func(uint64) error) error {
	for idx := off / linux.PageSize; idx*linux.PageSize < off+length; idx++ {
		if s.pages[idx] != nil {
			continue
		}
		if err := charge(1); err != nil {
			return err
		}
		if s.pages == nil {
			s.pages = make(map[uint64]*[linux.PageSize]byte)
		}
		s.pages[idx] = new([linux.PageSize]byte)
	}
	return nil
}

// punch zeroes [off, off+length), freeing whole pages. It returns the
// number of pages freed.
func (s *pageStore) punch(off, length uint64) (freed uint64) {
	end := off + length
	for pos := off; pos < end; {
		idx, pgoff := pos/linux.PageSize, pos%linux.PageSize
		n := min(end-pos, linux.PageSize-pgoff)
		if p := s.pages[idx]; p != nil {
			if n == linux.PageSize {
				delete(s.pages, idx)
				freed++
			} else {
				clear(p[pgoff : pgoff+n])
			}
		}
		pos += n
	}
	return freed
}

// seekData returns the first offset >= off inside an allocated page and
// below size, or ENXIO.
func (s *pageStore) seekData(off int64, size uint64) (int64, error) {
	if off < 0 || uint64(off) >= size {
		return 0, linux.ENXIO
	}
	idxs := s.sortedIndexes()
	start := uint64(off) / linux.PageSize
	for _, idx := range idxs {
		if idx >= start {
			pos := max(uint64(off), idx*linux.PageSize)
			if pos >= size {
				break
			}
			return int64(pos), nil
		}
	}
	return 0, linux.ENXIO
}

// seekHole returns the first offset >= off in a hole; end of file counts
// as one.
func (s *pageStore) seekHole(off int64, size uint64) (int64, error) {
	if off < 0 || uint64(off) >= size {
		return 0, linux.ENXIO
	}
	for idx := uint64(off) / linux.PageSize; idx*linux.PageSize < size; idx++ {
		if s.pages[idx] == nil {
			return int64(max(uint64(off), idx*linux.PageSize)), nil
		}
	}
	return int64(size), nil
}

func (s *pageStore) sortedIndexes() []uint64 {
	idxs := make([]uint64, 0, len(s.pages))
	for idx := range s.pages {
		idxs = append(idxs, idx)
	}
	slices.Sort(idxs)
	return idxs
}
