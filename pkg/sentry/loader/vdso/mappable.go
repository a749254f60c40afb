package vdso

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// pagesMappable is a memmap.Mappable over a fixed run of memory-file
// pages that live as long as the Instance: the vvar page at offset 0 and
// the image after it. It is never truncated, so it need not track its
// mappings.
type pagesMappable struct {
	mf *pgalloc.MemoryFile
	r  pgalloc.Range
}

// Name implements memmap.Mappable.Name; mappings name themselves
// ([vvar], [vdso]) through mm.MMapOpts.Name.
func (m *pagesMappable) Name() string { return "[vdso]" }

// AddMapping implements memmap.Mappable.AddMapping.
func (m *pagesMappable) AddMapping(memmap.MappingSpace, memmap.AddrRange, uint64, bool) error {
	return nil
}

// RemoveMapping implements memmap.Mappable.RemoveMapping.
func (m *pagesMappable) RemoveMapping(memmap.MappingSpace, memmap.AddrRange, uint64, bool) {}

// GetPages implements memmap.Mappable.GetPages.
func (m *pagesMappable) GetPages(offset uint64, pages []uint64, write bool) (int, error) {
	if offset%memmap.PageSize != 0 {
		panic(fmt.Sprintf("vdso: GetPages at unaligned offset %#x", offset))
	}
	for i := range pages {
		pos := offset + uint64(i)*memmap.PageSize
		if pos >= m.r.Length() {
			return i, memmap.ErrBeyondEOF
		}
		fo := m.r.Start + pos
		m.mf.IncRef(pgalloc.Range{Start: fo, End: fo + memmap.PageSize})
		pages[i] = fo
	}
	return len(pages), nil
}
