package linux

import (
	"context"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// userMemory is the part of the memory manager an IOSequence needs; tests
// substitute a byte slice for it.
type userMemory interface {
	CopyIn(addr uintptr, dst []byte) (int, error)
	CopyOut(addr uintptr, src []byte) (int, error)
}

// iovecSequence is a vfs.IOSequence over application memory: the
// buffers of an iovec array, in order. Its total never exceeds
// MAX_RW_COUNT, so every count fits the int a read or write returns.
// Values are immutable; DropFirst returns a new one.
type iovecSequence struct {
	mem  userMemory
	iovs []abilinux.Iovec
	// skip is how many bytes of iovs[0] are already consumed.
	skip  uint64
	total int64
}

// SingleIOSequence returns the IOSequence of read(2) and write(2): the
// length bytes at addr, cut to MAX_RW_COUNT. A buffer that reaches past
// the address space is EFAULT before anything is transferred, as Linux's
// access_ok check makes it.
func SingleIOSequence(t *kernel.Task, addr uintptr, length uint64) (vfs.IOSequence, error) {
	return newSingleSequence(t.MemoryManager(), uint64(t.MemoryManager().Layout().MaxAddr), addr, length)
}

func newSingleSequence(mem userMemory, maxAddr uint64, addr uintptr, length uint64) (vfs.IOSequence, error) {
	if length != 0 && (uint64(addr) > maxAddr || length > maxAddr-uint64(addr)) {
		return nil, abilinux.EFAULT
	}
	length = min(length, abilinux.MAX_RW_COUNT)
	return newIovecSequence(mem, []abilinux.Iovec{{Base: uint64(addr), Len: length}}), nil
}

// IovecIOSequence returns the IOSequence of readv(2) and writev(2): the
// iovcnt struct iovecs at addr. More than UIO_MAXIOV iovecs, or a
// negative length, is EINVAL; the total is cut to MAX_RW_COUNT.
func IovecIOSequence(t *kernel.Task, addr uintptr, iovcnt int) (vfs.IOSequence, error) {
	if iovcnt < 0 || iovcnt > abilinux.UIO_MAXIOV {
		return nil, abilinux.EINVAL
	}
	var stack [8]abilinux.Iovec
	iovs, err := t.MemoryManager().CopyInIovecs(addr, iovcnt, stack[:0])
	if err != nil {
		return nil, err
	}
	if len(iovs) <= len(stack) {
		// The sequence outlives this frame.
		iovs = append([]abilinux.Iovec(nil), iovs...)
	}
	return newIovecSequence(t.MemoryManager(), iovs), nil
}

// IovecsIOSequence wraps iovecs that the caller has already read and
// checked (with mm.CopyInIovecs), for recvmsg/sendmsg-style callers.
func IovecsIOSequence(m *mm.MemoryManager, iovs []abilinux.Iovec) vfs.IOSequence {
	return newIovecSequence(m, iovs)
}

func newIovecSequence(mem userMemory, iovs []abilinux.Iovec) *iovecSequence {
	s := &iovecSequence{mem: mem}
	var total uint64
	for _, iov := range iovs {
		l := min(iov.Len, abilinux.MAX_RW_COUNT-total)
		if l == 0 {
			continue
		}
		s.iovs = append(s.iovs, abilinux.Iovec{Base: iov.Base, Len: l})
		total += l
	}
	s.total = int64(total)
	return s
}

// NumBytes implements vfs.IOSequence.
func (s *iovecSequence) NumBytes() int64 { return s.total }

// CopyOut implements vfs.IOSequence.
func (s *iovecSequence) CopyOut(_ context.Context, src []byte) (int, error) {
	return s.transfer(src, s.mem.CopyOut)
}

// CopyIn implements vfs.IOSequence.
func (s *iovecSequence) CopyIn(_ context.Context, dst []byte) (int, error) {
	return s.transfer(dst, s.mem.CopyIn)
}

// transfer moves min(len(buf), NumBytes()) bytes between buf and the
// buffers in order, stopping at the first fault with the count so far.
func (s *iovecSequence) transfer(buf []byte, op func(uintptr, []byte) (int, error)) (int, error) {
	done := 0
	skip := s.skip
	for _, iov := range s.iovs {
		if done == len(buf) {
			break
		}
		n := int(min(iov.Len-skip, uint64(len(buf)-done)))
		c, err := op(uintptr(iov.Base+skip), buf[done:done+n])
		done += c
		if err != nil {
			return done, err
		}
		if c < n {
			return done, abilinux.EFAULT
		}
		skip = 0
	}
	return done, nil
}

// DropFirst implements vfs.IOSequence.
func (s *iovecSequence) DropFirst(n int64) vfs.IOSequence {
	if n <= 0 {
		return s
	}
	if n >= s.total {
		return &iovecSequence{mem: s.mem}
	}
	r := &iovecSequence{mem: s.mem, iovs: s.iovs, skip: s.skip, total: s.total - n}
	left := uint64(n)
	for left > 0 {
		avail := r.iovs[0].Len - r.skip
		if left < avail {
			r.skip += left
			break
		}
		left -= avail
		r.iovs = r.iovs[1:]
		r.skip = 0
	}
	return r
}

// taskUserMemory is the vfs.UserMemory that ioctl handlers use to reach
// the caller's memory.
type taskUserMemory struct{ mm *mm.MemoryManager }

// CopyOutBytes implements vfs.UserMemory.
func (m taskUserMemory) CopyOutBytes(_ context.Context, addr uint64, src []byte) (int, error) {
	return m.mm.CopyOut(uintptr(addr), src)
}

// CopyInBytes implements vfs.UserMemory.
func (m taskUserMemory) CopyInBytes(_ context.Context, addr uint64, dst []byte) (int, error) {
	return m.mm.CopyIn(uintptr(addr), dst)
}

// TaskUserMemory returns t's memory as a vfs.UserMemory.
func TaskUserMemory(t *kernel.Task) vfs.UserMemory { return taskUserMemory{t.MemoryManager()} }
