package pgalloc

import (
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// afterLoad recreates the host side of a restored file: a new memfd of the
// saved size, mapped into the Sentry. Its contents are zeros until
// LoadContents fills them.
func (f *MemoryFile) afterLoad() {
	fd, err := unix.MemfdCreate("appkernel-memory", unix.MFD_CLOEXEC)
	if err != nil {
		panic(fmt.Sprintf("pgalloc: restore: memfd_create: %v", err))
	}
	mapping, err := unix.Mmap(-1, 0, int(f.maxSize), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		panic(fmt.Sprintf("pgalloc: restore: reserving: %v", err))
	}
	f.fd, f.mapping = fd, mapping
	if f.size == 0 {
		return
	}
	if err := unix.Ftruncate(fd, int64(f.size)); err != nil {
		panic(fmt.Sprintf("pgalloc: restore: ftruncate: %v", err))
	}
	if _, err := unix.MmapPtr(fd, 0, unsafePointer(mapping, 0), uintptr(f.size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED|unix.MAP_NORESERVE); err != nil {
		panic(fmt.Sprintf("pgalloc: restore: mmap: %v", err))
	}
}

// SaveContents writes the data of every allocated page to w, as runs of
// (offset, length, bytes). It is the data half of a checkpoint; the page
// bookkeeping is saved with the MemoryFile object itself.
func (f *MemoryFile) SaveContents(w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hdr [16]byte
	n := uint64(len(f.refs))
	for p := uint64(0); p < n; {
		if f.refs[p] == 0 {
			p++
			continue
		}
		q := p
		for q < n && f.refs[q] != 0 {
			q++
		}
		binary.LittleEndian.PutUint64(hdr[0:], p<<pageShift)
		binary.LittleEndian.PutUint64(hdr[8:], (q-p)<<pageShift)
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(f.mapping[p<<pageShift : q<<pageShift]); err != nil {
			return err
		}
		p = q
	}
	binary.LittleEndian.PutUint64(hdr[0:], 0)
	binary.LittleEndian.PutUint64(hdr[8:], 0)
	_, err := w.Write(hdr[:])
	return err
}

// LoadContents reads what SaveContents wrote into a restored file.
func (f *MemoryFile) LoadContents(r io.Reader) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hdr [16]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fmt.Errorf("pgalloc: contents: %w", err)
		}
		off := binary.LittleEndian.Uint64(hdr[0:])
		length := binary.LittleEndian.Uint64(hdr[8:])
		if length == 0 {
			return nil
		}
		if off%pageSize != 0 || length%pageSize != 0 || off+length < off || off+length > f.size {
			return fmt.Errorf("pgalloc: contents: bad run [%#x, +%#x) in a file of %#x", off, length, f.size)
		}
		if _, err := io.ReadFull(r, f.mapping[off:off+length]); err != nil {
			return fmt.Errorf("pgalloc: contents: %w", err)
		}
	}
}
