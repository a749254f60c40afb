package linux

import (
	"encoding/binary"
	"errors"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Getdents64 implements getdents64(2).
func Getdents64(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return getdents(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), true)
}

// Getdents implements getdents(2), the older record format that only
// amd64 still has.
func Getdents(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return getdents(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), false)
}

// errDirentFull stops iteration at the first entry that does not fit.
var errDirentFull = errors.New("dirent buffer full")

// direntWriter packs directory entries into the caller's buffer.
type direntWriter struct {
	t      *kernel.Task
	addr   uintptr
	size   int
	done   int
	is64   bool
	record []byte
}

// add writes one record, or reports errDirentFull or a fault; the entry
// then stays unconsumed, so the next call starts with it.
func (w *direntWriter) add(d vfs.Dirent) error {
	if w.is64 {
		w.record = abilinux.AppendDirent64(w.record[:0], d.Ino, d.NextOff, d.Type, d.Name)
	} else {
		w.record = appendDirent(w.record[:0], d.Ino, d.NextOff, d.Type, d.Name)
	}
	if len(w.record) > w.size-w.done {
		return errDirentFull
	}
	if _, err := w.t.CopyOut(w.addr+uintptr(w.done), w.record); err != nil {
		return err
	}
	w.done += len(w.record)
	return nil
}

// appendDirent appends a struct linux_dirent: ino and off as longs,
// reclen, the NUL-terminated name, padding, and d_type in the last byte.
func appendDirent(buf []byte, ino uint64, off int64, typ uint8, name string) []byte {
	n := abilinux.DirentReclen(len(name))
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	r := buf[start:]
	binary.LittleEndian.PutUint64(r[0:], ino)
	binary.LittleEndian.PutUint64(r[8:], uint64(off))
	binary.LittleEndian.PutUint16(r[16:], uint16(n))
	copy(r[18:], name)
	r[n-1] = typ
	return buf
}

func getdents(t *kernel.Task, fd int32, addr uintptr, count uint32, is64 bool) (uintptr, error) {
	f, err := t.GetFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	// count is an unsigned int; Linux treats it as an int for the
	// buffer's size, and a buffer outside the address space is EFAULT.
	size := int(min(count, 1<<31-1))
	if maxAddr := uint64(t.MemoryManager().Layout().MaxAddr); uint64(addr) > maxAddr || uint64(size) > maxAddr-uint64(addr) {
		return 0, abilinux.EFAULT
	}
	w := &direntWriter{t: t, addr: addr, size: size, is64: is64}
	err = f.IterDirents(t.Context(), w.add)
	if w.done > 0 {
		// Like Linux, report what was written even if a later entry
		// faulted.
		return uintptr(w.done), nil
	}
	switch {
	case err == errDirentFull:
		// Not even one entry fits.
		return 0, abilinux.EINVAL
	case err != nil:
		return 0, err
	}
	return 0, nil
}
