package mm

import (
	"bytes"
	"errors"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/abi/marshal"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// User-memory I/O for system call handlers. Every function here treats the
// address as untrusted: an unmapped, PROT_NONE or (for writes) read-only
// address yields EFAULT, never a Sentry crash, and a copy that fails part
// way returns the bytes done with EFAULT.
//
// Copies go through the Sentry's own mapping of the memory file. Pages not
// yet populated are populated (copy-on-write broken for writes) without
// being mapped into the platform; the application's next touch maps them.

type ioOp uint8

const (
	opIn ioOp = iota
	opOut
	opZero
)

// errNeedPopulate is copyLocked's signal to populate and retry.
var errNeedPopulate = errors.New("mm: page needs populating")

// copyLocked copies between buf[done:length] and user memory at
// addr+done, without populating anything. It returns the new done and nil
// when finished, EFAULT for a bad address, or errNeedPopulate. mu is held
// for reading or writing.
func (mm *MemoryManager) copyLocked(addr uintptr, buf []byte, done, length int, op ioOp) (int, error) {
	var v *vma
	for done < length {
		a := addr + uintptr(done)
		if a < addr {
			return done, linux.EFAULT
		}
		if v == nil || a >= v.end {
			if v = mm.vmaAtLocked(a); v == nil {
				return done, linux.EFAULT
			}
			if op == opIn && !effectivePerms(v.perms).Read || op != opIn && !v.perms.Write {
				return done, linux.EFAULT
			}
		}
		p, ok := mm.pages[a>>pageShift]
		if !ok || (op != opIn && !p.writable) {
			return done, errNeedPopulate
		}
		in := uint64(a & pageMask)
		n := min(length-done, pageSize-int(in))
		mem := mm.mf.Slice(pgalloc.Range{Start: p.off + in, End: p.off + in + uint64(n)})
		switch op {
		case opIn:
			copy(buf[done:done+n], mem)
		case opOut:
			copy(mem, buf[done:done+n])
		case opZero:
			clear(mem)
		}
		done += n
	}
	return done, nil
}

// doIO runs copyLocked under the read lock, and if pages are missing,
// populates them under the write lock and carries on there.
func (mm *MemoryManager) doIO(addr uintptr, buf []byte, length int, op ioOp) (int, error) {
	if length == 0 {
		return 0, nil
	}
	mm.mu.RLock()
	done, err := mm.copyLocked(addr, buf, 0, length, op)
	mm.mu.RUnlock()
	if err != errNeedPopulate {
		return done, err
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	for {
		done, err = mm.copyLocked(addr, buf, done, length, op)
		if err != errNeedPopulate {
			return done, err
		}
		a := addr + uintptr(done)
		v := mm.vmaAtLocked(a)
		end := min(v.end, (addr+uintptr(length)+pageMask)&^pageMask)
		if end <= a { // the copy's end wrapped around
			end = v.end
		}
		mm.populateLocked(v, pagesOf(a, end), op != opIn, false)
		if p, ok := mm.pages[a>>pageShift]; !ok || (op != opIn && !p.writable) {
			// Past the end of the mapped object, or out of memory.
			return done, linux.EFAULT
		}
	}
}

// CopyIn copies len(dst) bytes from user memory at addr.
func (mm *MemoryManager) CopyIn(addr uintptr, dst []byte) (int, error) {
	return mm.doIO(addr, dst, len(dst), opIn)
}

// CopyOut copies src to user memory at addr.
func (mm *MemoryManager) CopyOut(addr uintptr, src []byte) (int, error) {
	return mm.doIO(addr, src, len(src), opOut)
}

// ZeroOut writes n zero bytes to user memory at addr.
func (mm *MemoryManager) ZeroOut(addr uintptr, n int) (int, error) {
	return mm.doIO(addr, nil, n, opZero)
}

// CopyInString reads a NUL-terminated string of at most maxLen bytes,
// counting the NUL, from addr. A string with no NUL in the first maxLen
// bytes is ENAMETOOLONG (maxLen is PATH_MAX for paths).
func (mm *MemoryManager) CopyInString(addr uintptr, maxLen int) (string, error) {
	// Read in pieces no larger than the stack buffer, so that the usual
	// short path costs no allocation but its string, and never past a
	// page that may not be mapped.
	var stack [256]byte
	buf := stack[:0]
	for len(buf) < maxLen {
		a := addr + uintptr(len(buf))
		chunk := min(maxLen-len(buf), pageSize-int(a&pageMask), len(stack))
		l := len(buf)
		buf = append(buf, make([]byte, chunk)...)
		n, err := mm.CopyIn(a, buf[l:l+chunk])
		if i := bytes.IndexByte(buf[l:l+n], 0); i >= 0 {
			return string(buf[:l+i]), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", linux.ENAMETOOLONG
}

// CopyInIovecs reads count struct iovecs from addr, appending them to dst
// (pass a stack array to avoid allocating), with readv(2)'s checks: count
// above UIO_MAXIOV or a negative length is EINVAL, a segment reaching past
// the user address space is EFAULT, and lengths are cut so their total
// does not exceed MAX_RW_COUNT.
func (mm *MemoryManager) CopyInIovecs(addr uintptr, count int, dst []linux.Iovec) ([]linux.Iovec, error) {
	if count < 0 || count > linux.UIO_MAXIOV {
		return dst, linux.EINVAL
	}
	var raw [linux.SizeofIovec]byte
	var total uint64
	maxAddr := uint64(mm.Layout().MaxAddr)
	for i := 0; i < count; i++ {
		if _, err := mm.CopyIn(addr+uintptr(i*linux.SizeofIovec), raw[:]); err != nil {
			return dst, err
		}
		var iov linux.Iovec
		iov.UnmarshalBytes(raw[:])
		if int64(iov.Len) < 0 {
			return dst, linux.EINVAL
		}
		if iov.Len > linux.MAX_RW_COUNT-total {
			iov.Len = linux.MAX_RW_COUNT - total
		}
		if iov.Len != 0 && (iov.Base > maxAddr || iov.Len > maxAddr-iov.Base) {
			return dst, linux.EFAULT
		}
		total += iov.Len
		dst = append(dst, iov)
	}
	return dst, nil
}

// CopyInVec fills dst from the user buffers iovs in order (readv's
// gather). It returns the bytes copied; an error means it stopped early.
func (mm *MemoryManager) CopyInVec(iovs []linux.Iovec, dst []byte) (int, error) {
	done := 0
	for _, iov := range iovs {
		if done == len(dst) {
			break
		}
		n := int(min(iov.Len, uint64(len(dst)-done)))
		c, err := mm.CopyIn(uintptr(iov.Base), dst[done:done+n])
		done += c
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// CopyOutVec scatters src into the user buffers iovs in order.
func (mm *MemoryManager) CopyOutVec(iovs []linux.Iovec, src []byte) (int, error) {
	done := 0
	for _, iov := range iovs {
		if done == len(src) {
			break
		}
		n := int(min(iov.Len, uint64(len(src)-done)))
		c, err := mm.CopyOut(uintptr(iov.Base), src[done:done+n])
		done += c
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// viewLocked returns the Sentry's view of user memory [addr, addr+n) if
// it lies within one populated page accessible for op.
func (mm *MemoryManager) viewLocked(addr uintptr, n int, op ioOp) ([]byte, bool) {
	if n > pageSize-int(addr&pageMask) || n == 0 {
		return nil, false
	}
	v := mm.vmaAtLocked(addr)
	if v == nil || (op == opIn && !effectivePerms(v.perms).Read) || (op == opOut && !v.perms.Write) {
		return nil, false
	}
	p, ok := mm.pages[addr>>pageShift]
	if !ok || (op == opOut && !p.writable) {
		return nil, false
	}
	in := p.off + uint64(addr&pageMask)
	return mm.mf.Slice(pgalloc.Range{Start: in, End: in + uint64(n)}), true
}

// bufPool holds scratch buffers for objects that straddle pages.
var bufPool = sync.Pool{New: func() any { b := make([]byte, pageSize); return &b }}

// CopyObjectIn decodes m from user memory at addr. A partial read is
// EFAULT.
func (mm *MemoryManager) CopyObjectIn(addr uintptr, m marshal.Marshallable) error {
	size := m.SizeBytes()
	mm.mu.RLock()
	if view, ok := mm.viewLocked(addr, size, opIn); ok {
		m.UnmarshalBytes(view)
		mm.mu.RUnlock()
		return nil
	}
	mm.mu.RUnlock()
	bp, buf := scratch(size)
	defer release(bp)
	if _, err := mm.CopyIn(addr, buf); err != nil {
		return err
	}
	m.UnmarshalBytes(buf)
	return nil
}

// CopyObjectOut encodes m into user memory at addr. A partial write is
// EFAULT (the bytes before the fault are written, as in Linux).
func (mm *MemoryManager) CopyObjectOut(addr uintptr, m marshal.Marshallable) error {
	size := m.SizeBytes()
	mm.mu.RLock()
	if view, ok := mm.viewLocked(addr, size, opOut); ok {
		m.MarshalBytes(view)
		mm.mu.RUnlock()
		return nil
	}
	mm.mu.RUnlock()
	bp, buf := scratch(size)
	defer release(bp)
	m.MarshalBytes(buf)
	_, err := mm.CopyOut(addr, buf)
	return err
}

func scratch(size int) (*[]byte, []byte) {
	if size > pageSize {
		return nil, make([]byte, size)
	}
	bp := bufPool.Get().(*[]byte)
	return bp, (*bp)[:size]
}

func release(bp *[]byte) {
	if bp != nil {
		bufPool.Put(bp)
	}
}
