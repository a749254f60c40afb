package mm

import (
	"encoding/binary"
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
	if mm.patchSite(site, nr, p.next) {
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
// to the application, and fills the table.
func (mm *MemoryManager) setUpPatchArea(entry uintptr) bool {
	if _, err := mm.MMap(MMapOpts{
		Addr: patchTable, Length: patchAreaEnd - patchTable, NoReplace: true,
		Private: true, Perms: patchAreaPerms, MaxPerms: patchAreaPerms,
	}); err != nil {
		return false
	}
	table := make([]byte, patchEntries*8)
	binary.LittleEndian.PutUint64(table, uint64(entry))
	for k := 1; k < patchEntries; k++ {
		binary.LittleEndian.PutUint64(table[8*k:], uint64(patchTramps+k*patchTrampSize))
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	_, err := mm.forceIOLocked(patchTable, table, true)
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

// patchSite rewrites the site at addr to use entry k of the table.
func (mm *MemoryManager) patchSite(addr uintptr, nr uint64, k int) bool {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.patch.off.Load() || mm.released {
		return false
	}
	v := mm.vmaAtLocked(addr)
	if v == nil || !v.private || v.perms.Write || !v.perms.Execute || v.end < addr+syscallSiteLen {
		return false
	}
	var in [syscallSiteLen + 1]byte // the byte before, then the site
	if n, _ := mm.forceIOLocked(addr-1, in[:], false); n != len(in) {
		return false
	}
	orig := [syscallSiteLen]byte(in[1:])
	if orig[5] != 0x0f || orig[6] != 0x05 || !relocatable(orig[:5], nr) || prefixed(in[0]) {
		return false
	}

	tramp := patchTramps + uintptr(k)*patchTrampSize
	var code [patchTrampSize]byte
	copy(code[:5], orig[:5])
	code[5], code[6] = 0x48, 0xb9
	binary.LittleEndian.PutUint64(code[7:], uint64(addr+syscallSiteLen))
	jumpThrough(code[15:trampCodeLen], patchTable)
	for i := trampCodeLen; i < patchTrampSize; i++ {
		code[i] = 0xcc
	}
	if _, err := mm.forceIOLocked(tramp, code[:], true); err != nil {
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
		var patched, orig [syscallSiteLen]byte
		jumpThrough(patched[:], patchTable+uintptr(i+1)*8)
		copy(orig[:], s.insn[:])
		orig[5], orig[6] = 0x0f, 0x05
		// The application may have changed the code since; only the
		// exact rewrite is undone.
		mm.rewriteLocked(s.addr, patched, orig)
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
	var ret [8]byte
	if n, _ := mm.ForceIO(tramp+7, ret[:], false); n != len(ret) {
		return 0, false
	}
	return uintptr(binary.LittleEndian.Uint64(ret[:])) - syscallSiteLen, true
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
