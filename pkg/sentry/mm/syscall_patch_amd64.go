package mm

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// System call patching.
//
// On a platform where a trap is the slow way into the Sentry (systrap: a
// seccomp SIGSYS costs several microseconds), a call site the application
// runs is rewritten, once, to jump into the Sentry directly. The site is
// a syscall instruction and the 5-byte instruction before it, which must
// be one the trampoline can run elsewhere (relocatable): in practice
// `mov $nr, %eax`, how glibc and Go's runtime make almost every call, and
// glibc's syscall(3). The 7 bytes become
//
//	ff 24 25 lo hi 0f 0b	jmp *(patchTable + 8k)
//
// whose table entry k points to trampoline k in the same area:
//
//	(the 5 bytes)		mov $nr, %eax, say
//	48 b9 ret		movabs $site+7, %rcx	(as syscall would set it)
//	ff 24 25 00 00 0f 0b	jmp *patchTable		(entry 0: the platform's entry)
//
// The table sits where its addresses end in 0f 0b, which is ud2: a thread
// that reaches site+5, where the syscall instruction was, traps with
// SIGILL there. That happens when the Sentry restarts an interrupted call
// (it moves rip back by the two bytes of syscall), when code jumps to the
// syscall instruction itself, and when a thread ran the old mov just
// before the rewrite; the kernel treats that SIGILL as the system call
// (PatchedTrap).
//
// The rewrite goes to the memory-file page behind the site (a private
// copy: patching breaks copy-on-write, as a debugger's breakpoint does),
// in steps that never let another thread running the same code execute a
// mix of old and new bytes (rewriteLocked). Sites in writable or shared
// mappings are left alone (self-modifying code, files).
const (
	patchTable     = 0x0b0f_0000
	patchEntries   = 0x10000 / 8
	patchTramps    = patchTable + patchEntries*8
	patchTrampSize = 32
	patchAreaEnd   = patchTramps + patchEntries*patchTrampSize

	syscallSiteLen = 7
	trampCodeLen   = 22
	trampSiteOff   = 24 // the site's address, after the trampoline's code
	// maxUnpatchable bounds the set of sites found not to match.
	maxUnpatchable = 4096
)

var patchAreaPerms = platform.AccessType{Read: true, Execute: true}

// PatchSyscall rewrites the call site that system call nr just trapped
// from (rip is past its syscall instruction) to enter through entry, the
// platform's SyscallPatchEntry, if the site allows it. It is a hint: on
// any obstacle the site keeps trapping.
func (mm *MemoryManager) PatchSyscall(rip uintptr, nr uint64, entry uintptr) {
	site := rip - syscallSiteLen
	if rip < syscallSiteLen || entry == 0 {
		return
	}
	p := &mm.patch
	if p.off.Load() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, bad := p.unpatchable[site]; bad || p.next >= patchEntries {
		return
	}
	if p.next == 0 {
		if !mm.setUpPatchArea(entry) {
			p.off.Store(true)
			return
		}
		p.next = 1
	}
	if mm.patchSite(rip, nr, p.next) {
		p.next++
		return
	}
	if p.unpatchable == nil {
		p.unpatchable = make(map[uintptr]struct{})
	}
	if len(p.unpatchable) < maxUnpatchable {
		p.unpatchable[site] = struct{}{}
	}
}

// setUpPatchArea maps the table and trampolines, read-only and executable
// to the application, with the table's entry 0; the others are written
// with their trampolines, so that a short-lived process touches a page or
// two of the area, not all of it.
func (mm *MemoryManager) setUpPatchArea(entry uintptr) bool {
	if _, err := mm.MMap(MMapOpts{
		Addr: patchTable, Length: patchAreaEnd - patchTable, NoReplace: true,
		Private: true, Perms: patchAreaPerms, MaxPerms: patchAreaPerms,
	}); err != nil {
		return false
	}
	var e [8]byte
	binary.LittleEndian.PutUint64(e[:], uint64(entry))
	mm.mu.Lock()
	defer mm.mu.Unlock()
	_, err := mm.forceIOLocked(patchTable, e[:], true)
	return err == nil
}

// relocatable reports whether w, the 5 bytes before a syscall instruction
// that ran system call nr, is an instruction that does the same at another
// address. The bytes may also be the tail of a longer instruction, which
// no check on them alone can rule out; the checks make that unlikely: a
// mov must load the number the call used, and the byte before must not
// be a prefix (prefixed).
func relocatable(w []byte, nr uint64) bool {
	switch {
	case w[0] == 0xb8: // mov $imm32, %eax
		return uint64(binary.LittleEndian.Uint32(w[1:])) == nr
	case [5]byte(w) == [5]byte{0x4c, 0x8b, 0x4c, 0x24, 0x08}: // mov 0x8(%rsp), %r9: glibc's syscall(3)
		return true
	}
	return false
}

// prefixed reports whether b is an x86 instruction prefix: REX, operand
// or address size, segment, lock or rep.
func prefixed(b byte) bool {
	switch {
	case b >= 0x40 && b <= 0x4f:
		return true
	}
	switch b {
	case 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65:
		return true
	}
	return false
}

// patchSite rewrites the site of the syscall instruction that ends at rip
// to use entry k of the table.
func (mm *MemoryManager) patchSite(rip uintptr, nr uint64, k int) bool {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.patch.off.Load() || mm.released || rip < syscallSiteLen+1 {
		return false
	}
	var w [syscallSiteLen + 1]byte // the byte before the longest site, the site
	if n, _ := mm.forceIOLocked(rip-uintptr(len(w)), w[:], false); n != len(w) || w[6] != 0x0f || w[7] != 0x05 {
		return false
	}
	switch {
	case relocatable(w[1:6], nr) && !prefixed(w[0]):
		return mm.patchLongLocked(rip-syscallSiteLen, [syscallSiteLen]byte(w[1:]), k)
	case w[4] == 0x31 && w[5] == 0xc0 && nr == 0 && !prefixed(w[3]): // xor %eax, %eax: glibc's read
		return mm.patchShortLocked(rip-4, k)
	}
	return false
}

// patchableLocked reports whether [addr, end) lies in one mapping whose
// code may be rewritten, and returns it.
func (mm *MemoryManager) patchableLocked(addr, end uintptr) (*vma, bool) {
	v := mm.vmaAtLocked(addr)
	return v, v != nil && v.private && !v.perms.Write && v.perms.Execute && end <= v.end
}

// writeTrampolineLocked writes trampoline k: insn (padded with a nop to 5
// bytes), rcx = ret, jump to the entry; after the code, the site's
// address for SiteOfTrampoline.
func (mm *MemoryManager) writeTrampolineLocked(k int, insn []byte, ret, site uintptr) bool {
	var code [patchTrampSize]byte
	for i := range code {
		code[i] = 0xcc
	}
	copy(code[:5], insn)
	if len(insn) == 2 {
		code[2], code[3], code[4] = 0x0f, 0x1f, 0x00 // nopl (%rax)
	}
	code[5], code[6] = 0x48, 0xb9
	binary.LittleEndian.PutUint64(code[7:], uint64(ret))
	jumpThrough(code[15:trampCodeLen], patchTable)
	binary.LittleEndian.PutUint64(code[trampSiteOff:], uint64(site))
	tramp := patchTramps + uintptr(k)*patchTrampSize
	if _, err := mm.forceIOLocked(tramp, code[:], true); err != nil {
		return false
	}
	var e [8]byte
	binary.LittleEndian.PutUint64(e[:], uint64(tramp))
	_, err := mm.forceIOLocked(patchTable+uintptr(k)*8, e[:], true)
	return err == nil
}

// patchLongLocked rewrites the 7-byte site at addr (orig) into a jump
// through entry k.
func (mm *MemoryManager) patchLongLocked(addr uintptr, orig [syscallSiteLen]byte, k int) bool {
	if _, ok := mm.patchableLocked(addr, addr+syscallSiteLen); !ok {
		return false
	}
	if !mm.writeTrampolineLocked(k, orig[:5], addr+syscallSiteLen, addr) {
		return false
	}
	var patched [syscallSiteLen]byte
	jumpThrough(patched[:], patchTable+uintptr(k)*8)
	if !mm.rewriteLocked(addr, orig, patched) {
		return false
	}
	mm.patch.sites = append(mm.patch.sites, patchedSite{addr: addr, insn: [5]byte(orig[:5])})
	return true
}

// patchShortLocked rewrites `xor %eax, %eax; syscall` at addr, which has
// no room for the jump: the xor becomes a two-byte jump to padding
// nearby, dead bytes between a ret and the next 16-byte boundary, which
// gets the jump through entry k. The syscall instruction stays as it is,
// so a restarted call (or a jump to it) simply traps.
func (mm *MemoryManager) patchShortLocked(addr uintptr, k int) bool {
	v, ok := mm.patchableLocked(addr, addr+4)
	if !ok || addr&7 == 7 {
		// The two bytes must change in one aligned store.
		return false
	}
	from := addr + 2 // where a rel8 jump is counted from
	pad, ok := mm.findPaddingLocked(v, from)
	if !ok || !mm.writeTrampolineLocked(k, []byte{0x31, 0xc0}, addr+4, addr) {
		return false
	}
	var jump [syscallSiteLen]byte
	jumpThrough(jump[:], patchTable+uintptr(k)*8)
	if n, _ := mm.forceIOLocked(pad, jump[:], true); n != len(jump) {
		return false
	}
	if !mm.rewrite2Locked(addr, [2]byte{0x31, 0xc0}, [2]byte{0xeb, byte(int8(pad - from))}) {
		return false
	}
	if mm.patch.pads == nil {
		mm.patch.pads = make(map[uintptr]struct{})
	}
	mm.patch.pads[pad] = struct{}{}
	mm.patch.sites = append(mm.patch.sites, patchedSite{addr: addr, insn: [5]byte{0x31, 0xc0}, short: true})
	return true
}

// rewrite2Locked replaces the two bytes at addr (not the last of an
// aligned 8-byte word), if they are from, with to, in one store.
func (mm *MemoryManager) rewrite2Locked(addr uintptr, from, to [2]byte) bool {
	if n, _ := mm.forceIOLocked(addr, from[:], true); n != 2 { // breaks copy-on-write
		return false
	}
	v := mm.vmaAtLocked(addr)
	p, ok := mm.pages[addr>>pageShift]
	if v == nil || !ok || !p.writable {
		return false
	}
	off := p.off + uint64(addr&pageMask&^7)
	word := (*uint64)(unsafe.Pointer(&mm.mf.Slice(pgalloc.Range{Start: off, End: off + 8})[0]))
	shift := (addr & 7) * 8
	old := atomic.LoadUint64(word)
	if byte(old>>shift) != from[0] || byte(old>>(shift+8)) != from[1] {
		return false
	}
	mask := uint64(0xffff) << shift
	nw := old&^mask | (uint64(to[0])|uint64(to[1])<<8)<<shift
	return atomic.CompareAndSwapUint64(word, old, nw)
}

// findPaddingLocked finds 7 dead bytes for a rel8 jump counted from from:
// they follow a ret and are nops (or int3s) up to the next 16-byte
// boundary, where compilers pad before the next function or label, which
// no code falls or jumps into.
func (mm *MemoryManager) findPaddingLocked(v *vma, from uintptr) (uintptr, bool) {
	lo, hi := max(from-128, v.start), min(from+127+syscallSiteLen, v.end)
	if from < 128 {
		lo = v.start
	}
	buf := make([]byte, hi-lo)
	if n, _ := mm.forceIOLocked(lo, buf, false); n != len(buf) {
		return 0, false
	}
	for i := 1; i+syscallSiteLen <= len(buf); i++ {
		q := lo + uintptr(i)
		d := int(q) - int(from)
		if buf[i-1] != 0xc3 || d < -128 || d > 127 || q&15 == 0 {
			continue
		}
		if _, used := mm.patch.pads[q]; used {
			continue
		}
		end := int((q+15)&^15 - lo)
		if end-i < syscallSiteLen || end > len(buf) || !allPadding(buf[i:end]) {
			continue
		}
		return q, true
	}
	return 0, false
}

// allPadding reports whether b is a run of nop instructions (the forms
// assemblers pad with) or int3s.
func allPadding(b []byte) bool {
	for len(b) > 0 {
		n := padLen(b)
		if n == 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// padLen returns the length of the nop or int3 that b starts with, or 0.
func padLen(b []byte) int {
	switch b[0] {
	case 0x90, 0xcc:
		return 1
	}
	i := 0
	for i < len(b) && i < 8 && (b[i] == 0x66 || b[i] == 0x2e) {
		i++
	}
	if i < len(b) && b[i] == 0x90 && i > 0 && b[0] == 0x66 {
		return i + 1
	}
	if i+3 > len(b) || b[i] != 0x0f || b[i+1] != 0x1f {
		return 0
	}
	modrm := b[i+2]
	n := i + 3
	mod, rm := modrm>>6, modrm&7
	if mod != 3 && rm == 4 {
		n++ // SIB
	}
	switch {
	case mod == 1:
		n++
	case mod == 2:
		n += 4
	case mod == 0 && rm == 5:
		return 0 // rip-relative: not how padding looks
	}
	if n > len(b) {
		return 0
	}
	return n
}

// rewriteLocked replaces the 7 bytes at addr, if they are from, with to,
// so that a thread running them meanwhile executes either, or traps where
// the kernel can tell it to go on (PatchedTrap). Within one 16-byte block
// that is one compare-and-swap. Across blocks it takes the steps Linux
// takes for its own text: an int3 over the first byte, a core
// synchronization of every thread of the address space, the other bytes,
// another synchronization, the first byte. mu is held for writing.
func (mm *MemoryManager) rewriteLocked(addr uintptr, from, to [syscallSiteLen]byte) bool {
	if addr&15 <= 16-syscallSiteLen {
		// The other site a block may hold can change under us, hence
		// the loop.
		for try := 0; try < 8; try++ {
			block, ok := mm.siteBlockLocked(addr)
			if !ok {
				return false
			}
			old := *block
			var b [16]byte
			binary.LittleEndian.PutUint64(b[0:], old[0])
			binary.LittleEndian.PutUint64(b[8:], old[1])
			in := b[addr&15 : addr&15+syscallSiteLen]
			if [syscallSiteLen]byte(in) != from {
				return false
			}
			copy(in, to[:])
			if cas128(block, old[0], old[1], binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])) {
				return true
			}
		}
		return false
	}
	cs, ok := mm.as.(platform.CoreSyncer)
	if !ok {
		return false
	}
	var cur [syscallSiteLen]byte
	if n, _ := mm.forceIOLocked(addr, cur[:], false); n != len(cur) || cur != from {
		return false
	}
	// Make both pages private first, so that each store below is one.
	if n, _ := mm.forceIOLocked(addr, cur[:], true); n != len(cur) {
		return false
	}
	if n, _ := mm.forceIOLocked(addr, []byte{0xcc}, true); n != 1 {
		return false
	}
	if cs.SyncCore() != nil {
		mm.forceIOLocked(addr, from[:1], true)
		return false
	}
	if n, _ := mm.forceIOLocked(addr+1, to[1:], true); n != len(to)-1 {
		mm.forceIOLocked(addr+1, from[1:], true)
		mm.forceIOLocked(addr, from[:1], true)
		return false
	}
	if cs.SyncCore() != nil {
		// Without the synchronization another thread might yet run a
		// mix of old and new bytes; undoing would not help that.
		mm.forceIOLocked(addr, to[:1], true)
		return true
	}
	mm.forceIOLocked(addr, to[:1], true)
	return true
}

// unpatchLocked puts back every rewritten site in [start, end): before
// their code moves (mremap; a trampoline returns to the old address), or,
// for every site, before the area they jump to is unmapped or replaced,
// which also ends patching. mu is held for writing.
func (mm *MemoryManager) unpatchLocked(start, end uintptr) {
	if overlapsPatchArea(start, end) {
		mm.patch.off.Store(true)
		start, end = 0, ^uintptr(0)
	}
	for i, s := range mm.patch.sites {
		if s.addr < start || s.addr >= end || s.undone {
			continue
		}
		// The application may have changed the code since; only the
		// exact rewrite is undone.
		if s.short {
			// The padding keeps its jump: dead code.
			var cur [2]byte
			if n, _ := mm.forceIOLocked(s.addr, cur[:], false); n == 2 && cur[0] == 0xeb {
				mm.rewrite2Locked(s.addr, cur, [2]byte{0x31, 0xc0})
			}
		} else {
			var patched, orig [syscallSiteLen]byte
			jumpThrough(patched[:], patchTable+uintptr(i+1)*8)
			copy(orig[:], s.insn[:])
			orig[5], orig[6] = 0x0f, 0x05
			mm.rewriteLocked(s.addr, patched, orig)
		}
		// The entry stays used: a thread may be in its trampoline.
		mm.patch.sites[i].undone = true
	}
}

// SiteOfTrampoline returns the call site whose trampoline holds ip, so
// that a thread interrupted there (before it reached the Sentry) can be
// shown, and resumed, as not yet having made the call: running the
// site's first instruction again is harmless (relocatable). ok is false
// if ip is not in a trampoline.
func (mm *MemoryManager) SiteOfTrampoline(ip uintptr) (site uintptr, ok bool) {
	if ip < patchTramps+patchTrampSize || ip >= patchAreaEnd || (ip-patchTramps)%patchTrampSize >= trampCodeLen {
		return 0, false
	}
	tramp := ip &^ (patchTrampSize - 1)
	var b [8]byte
	if n, _ := mm.ForceIO(tramp+trampSiteOff, b[:], false); n != len(b) {
		return 0, false
	}
	return uintptr(binary.LittleEndian.Uint64(b[:])), true
}

// overlapsPatchArea reports whether [start, end) touches the patch area.
func overlapsPatchArea(start, end uintptr) bool { return start < patchAreaEnd && end > patchTable }

// jumpThrough writes `jmp *abs32` into b (7 bytes).
func jumpThrough(b []byte, abs uintptr) {
	b[0], b[1], b[2] = 0xff, 0x24, 0x25
	binary.LittleEndian.PutUint32(b[3:], uint32(abs))
}

// siteBlockLocked returns the Sentry's view of the 16-byte block holding
// the site at addr, made private to this address space. mu is held for
// writing.
func (mm *MemoryManager) siteBlockLocked(addr uintptr) (*[2]uint64, bool) {
	if mm.released {
		return nil, false
	}
	v := mm.vmaAtLocked(addr)
	if v == nil || !v.private {
		return nil, false
	}
	pn := addr >> pageShift
	if p, ok := mm.pages[pn]; !ok || !p.writable {
		if err := mm.populateLocked(v, pagesOf(addr, addr+1), true, false); err != nil {
			return nil, false
		}
	}
	p, ok := mm.pages[pn]
	if !ok || !p.writable {
		return nil, false
	}
	off := p.off + uint64(addr&pageMask&^15)
	b := mm.mf.Slice(pgalloc.Range{Start: off, End: off + 16})
	return (*[2]uint64)(unsafe.Pointer(&b[0])), true
}

// PatchedTrap says what a SIGILL or SIGTRAP (int3) that a thread raised at
// ip means for rewritten sites, and where the thread goes on:
//
//   - SIGILL at the ud2 of a rewritten site, where its syscall instruction
//     was: that system call (PatchTrapSyscall), from ip+2.
//   - SIGILL at a site's ud2 or SIGTRAP at its int3 while it was being
//     rewritten (rewriteLocked), the bytes since replaced: the thread runs
//     the code as it is now (PatchTrapRetry), from the trapping
//     instruction.
func (mm *MemoryManager) PatchedTrap(ip uintptr, int3 bool) (PatchTrap, uintptr) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if int3 {
		at := ip - 1
		var b [1]byte
		if n, _ := mm.forceIOLocked(at, b[:], false); n == 1 && b[0] != 0xcc && mm.wasSiteLocked(at) {
			return PatchTrapRetry, at
		}
		return PatchTrapNone, ip
	}
	if ip < 5 {
		return PatchTrapNone, ip
	}
	var b [syscallSiteLen]byte
	if n, _ := mm.forceIOLocked(ip-5, b[:], false); n != len(b) {
		return PatchTrapNone, ip
	}
	k := uintptr(binary.LittleEndian.Uint16(b[3:]))
	if b[0] == 0xff && b[1] == 0x24 && b[2] == 0x25 && b[5] == 0x0f && b[6] == 0x0b && k%8 == 0 && k != 0 {
		return PatchTrapSyscall, ip + 2
	}
	if b[5] == 0x0f && b[6] == 0x05 && mm.wasSiteLocked(ip-5) {
		return PatchTrapRetry, ip
	}
	return PatchTrapNone, ip
}

// wasSiteLocked reports whether a site at addr was ever rewritten here.
func (mm *MemoryManager) wasSiteLocked(addr uintptr) bool {
	for _, s := range mm.patch.sites {
		if s.addr == addr {
			return true
		}
	}
	return false
}

// cas128 is a 16-byte compare-and-swap (lock cmpxchg16b); addr must be
// 16-byte aligned.
//
//go:noescape
func cas128(addr *[2]uint64, old0, old1, new0, new1 uint64) bool
