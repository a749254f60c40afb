package tmpfs

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// File seals (fcntl F_ADD_SEALS, F_GET_SEALS), as Linux's shmem has them:
// every tmpfs regular file carries a seal set, which starts as F_SEAL_SEAL
// (nothing can be added) except for memfds made with MFD_ALLOW_SEALING.
// The seals are enforced on write, truncate, fallocate, mmap and chmod.

// allSeals is F_ALL_SEALS.
const allSeals = linux.F_SEAL_SEAL | linux.F_SEAL_SHRINK | linux.F_SEAL_GROW | linux.F_SEAL_WRITE |
	linux.F_SEAL_FUTURE_WRITE | linux.F_SEAL_EXEC

// writeSeals forbid changing the contents through write, hole punching
// and new writable shared mappings.
const writeSeals = linux.F_SEAL_WRITE | linux.F_SEAL_FUTURE_WRITE

func regularFileOf(fd *vfs.FileDescription) (*regularFile, bool) {
	if r, ok := fd.Impl().(*regularFileFD); ok {
		return r.file, true
	}
	return nil, false
}

// Seals implements F_GET_SEALS: EINVAL for a file that is not a tmpfs
// regular file.
func Seals(fd *vfs.FileDescription) (uint32, error) {
	f, ok := regularFileOf(fd)
	if !ok {
		return 0, linux.EINVAL
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.seals, nil
}

// AddSeals implements F_ADD_SEALS, with Linux's errors: EPERM for a
// description not open for writing or a file sealed with F_SEAL_SEAL,
// EINVAL for unknown seals or a file that cannot be sealed, and EBUSY
// for F_SEAL_WRITE while the file has writable shared mappings.
func AddSeals(fd *vfs.FileDescription, seals uint32) error {
	if !fd.IsWritable() {
		return linux.EPERM
	}
	if seals&^allSeals != 0 {
		return linux.EINVAL
	}
	f, ok := regularFileOf(fd)
	if !ok {
		return linux.EINVAL
	}
	// Wait for writes in progress, so none lands after F_SEAL_WRITE.
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seals&linux.F_SEAL_SEAL != 0 {
		return linux.EPERM
	}
	if seals&linux.F_SEAL_WRITE != 0 && f.seals&linux.F_SEAL_WRITE == 0 {
		f.data.mu.Lock()
		busy := f.data.mappings.HasWritable()
		f.data.mu.Unlock()
		if busy {
			return linux.EBUSY
		}
	}
	// F_SEAL_EXEC on an executable file also forbids writing, so that
	// the file is write-xor-execute from then on (Linux 6.3).
	if seals&linux.F_SEAL_EXEC != 0 && f.mode&0111 != 0 {
		seals |= linux.F_SEAL_SHRINK | linux.F_SEAL_GROW | linux.F_SEAL_WRITE | linux.F_SEAL_FUTURE_WRITE
	}
	f.seals |= seals
	return nil
}

// writeLimitLocked returns how many of count bytes at offset the seals
// allow to be written, or EPERM if none. F_SEAL_GROW stops a write at the
// page that would extend the file, as shmem's per-page checks do: earlier
// pages are written and the write is short. f.mu is held.
func (f *regularFile) writeLimitLocked(offset, count int64, size uint64) (int64, error) {
	if f.seals&writeSeals != 0 {
		return 0, linux.EPERM
	}
	if f.seals&linux.F_SEAL_GROW == 0 || uint64(offset+count) <= size {
		return count, nil
	}
	// Pages wholly below the size may be written; the page holding the
	// end of file would grow it if the write runs past it.
	limit := int64(size) &^ (linux.PageSize - 1)
	if n := limit - offset; n > 0 {
		return min(n, count), nil
	}
	return 0, linux.EPERM
}

// truncateAllowedLocked applies F_SEAL_SHRINK and F_SEAL_GROW to a change
// of size. f.mu is held.
func (f *regularFile) truncateAllowedLocked(size uint64) error {
	cur, _ := f.data.sizeAndUsage()
	if size < cur && f.seals&linux.F_SEAL_SHRINK != 0 || size > cur && f.seals&linux.F_SEAL_GROW != 0 {
		return linux.EPERM
	}
	return nil
}

// allocateAllowedLocked applies the seals to fallocate. f.mu is held.
func (f *regularFile) allocateAllowedLocked(mode uint64, offset, length int64) error {
	if mode&linux.FALLOC_FL_PUNCH_HOLE != 0 {
		if f.seals&writeSeals != 0 {
			return linux.EPERM
		}
		return nil
	}
	size, _ := f.data.sizeAndUsage()
	if f.seals&linux.F_SEAL_GROW != 0 && uint64(offset+length) > size {
		return linux.EPERM
	}
	return nil
}
