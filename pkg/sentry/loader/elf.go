package loader

import (
	"bytes"
	"io"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Bounds Linux puts on what it reads from an ELF file before mapping it.
const (
	// maxPhdrBytes is ELF_MIN_ALIGN: the whole program header table must
	// fit in one page, which caps e_phnum at 73 for ELF64.
	maxPhdrBytes = linux.PageSize
	// minInterpLen and maxInterpLen bound PT_INTERP's p_filesz (including
	// the NUL): at least one character, at most PATH_MAX.
	minInterpLen = 2
	maxInterpLen = linux.PATH_MAX
)

// elfImage is a parsed, validated ELF executable or interpreter.
type elfImage struct {
	hdr   linux.ElfHeader64
	phdrs []linux.ElfProg64
	// loads are the PT_LOAD headers in file order (which validation
	// requires to be ascending in p_vaddr), zero-size ones dropped.
	loads []linux.ElfProg64
	// interp is the PT_INTERP path, "" when there is none.
	interp string
	// execStack is PT_GNU_STACK's PF_X (the last such header wins, as in
	// Linux); without the header the stack is not executable on 64-bit.
	execStack bool
	// maxAlign is the largest power-of-two p_align of the PT_LOADs,
	// at least a page.
	maxAlign uint64
}

func pageDown(x uint64) uint64 { return x &^ (linux.PageSize - 1) }

// pageUp rounds up; ok is false on overflow.
func pageUp(x uint64) (uint64, bool) {
	r := (x + linux.PageSize - 1) &^ (linux.PageSize - 1)
	return r, r >= x
}

func pageOff(x uint64) uint64 { return x & (linux.PageSize - 1) }

// isELF reports whether the first bytes of a file carry the ELF magic.
func isELF(head []byte) bool {
	return len(head) >= 4 && bytes.Equal(head[:4], []byte(linux.ELFMAG))
}

// readFull reads exactly len(b) bytes at off; a short file is errno.
func readFull(f File, b []byte, off int64, errno linux.Errno, what string) error {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		return errorf(errno, "%s: file truncated (%d of %d bytes at %#x)", what, n, len(b), off)
	}
	return err
}

// parseELF reads and validates f's ELF header and program headers for
// arch. Malformations are ENOEXEC; per-segment numeric errors Linux reports
// as EINVAL stay EINVAL. taskSize bounds every segment.
func parseELF(f File, arch *archParams, taskSize uint64) (*elfImage, error) {
	size := f.Size()
	var hb [linux.SizeofElfHeader64]byte
	if err := readFull(f, hb[:], 0, linux.ENOEXEC, "ELF header"); err != nil {
		return nil, err
	}
	img := &elfImage{}
	img.hdr.UnmarshalBytes(hb[:])
	h := &img.hdr
	if !isELF(hb[:]) {
		return nil, errorf(linux.ENOEXEC, "no ELF magic")
	}
	if h.Ident[linux.EI_CLASS] != linux.ELFCLASS64 || h.Ident[linux.EI_DATA] != linux.ELFDATA2LSB {
		return nil, errorf(linux.ENOEXEC, "not a little-endian ELF64 file (class %d, data %d)", h.Ident[linux.EI_CLASS], h.Ident[linux.EI_DATA])
	}
	if h.Type != linux.ET_EXEC && h.Type != linux.ET_DYN {
		return nil, errorf(linux.ENOEXEC, "ELF type %d is not ET_EXEC or ET_DYN", h.Type)
	}
	if h.Machine != arch.machine {
		return nil, errorf(linux.ENOEXEC, "ELF machine %d, want %d", h.Machine, arch.machine)
	}
	if h.Phentsize != linux.SizeofElfProg64 {
		return nil, errorf(linux.ENOEXEC, "e_phentsize %d", h.Phentsize)
	}
	tableSize := uint64(h.Phnum) * linux.SizeofElfProg64
	if tableSize == 0 || tableSize > maxPhdrBytes {
		return nil, errorf(linux.ENOEXEC, "e_phnum %d out of range", h.Phnum)
	}
	if h.Phoff > uint64(size) || tableSize > uint64(size)-h.Phoff {
		return nil, errorf(linux.ENOEXEC, "program headers at %#x+%#x past end of file (%d bytes)", h.Phoff, tableSize, size)
	}
	table := make([]byte, tableSize)
	if err := readFull(f, table, int64(h.Phoff), linux.ENOEXEC, "program headers"); err != nil {
		return nil, err
	}
	img.phdrs = make([]linux.ElfProg64, h.Phnum)
	for i := range img.phdrs {
		img.phdrs[i].UnmarshalBytes(table[i*linux.SizeofElfProg64:])
	}

	img.maxAlign = linux.PageSize
	haveInterp := false
	for i := range img.phdrs {
		p := &img.phdrs[i]
		switch p.Type {
		case linux.PT_LOAD:
			if err := checkLoad(p, uint64(size), taskSize); err != nil {
				return nil, err
			}
			if p.Align != 0 && p.Align&(p.Align-1) == 0 && p.Align > img.maxAlign {
				img.maxAlign = p.Align
			}
			if p.Memsz != 0 {
				img.loads = append(img.loads, *p)
			}
		case linux.PT_INTERP:
			if haveInterp {
				continue // Linux uses the first one.
			}
			haveInterp = true
			path, err := readInterp(f, p, uint64(size))
			if err != nil {
				return nil, err
			}
			img.interp = path
		case linux.PT_GNU_STACK:
			img.execStack = p.Flags&linux.PF_X != 0
		}
	}
	if len(img.loads) == 0 {
		return nil, errorf(linux.ENOEXEC, "no loadable segment")
	}
	for i := 1; i < len(img.loads); i++ {
		prev, cur := &img.loads[i-1], &img.loads[i]
		if cur.Vaddr < prev.Vaddr+prev.Memsz {
			return nil, errorf(linux.ENOEXEC, "PT_LOAD at %#x overlaps or precedes the one at %#x+%#x", cur.Vaddr, prev.Vaddr, prev.Memsz)
		}
	}
	// Linux refuses an entry point outside user space (BAD_ADDR).
	if h.Type == linux.ET_EXEC && h.Entry >= taskSize {
		return nil, errorf(linux.EINVAL, "entry point %#x outside user space", h.Entry)
	}
	return img, nil
}

// checkLoad validates one PT_LOAD header against the file and user space.
// Every sum is checked before it is formed, so hostile values cannot wrap.
func checkLoad(p *linux.ElfProg64, fileSize, taskSize uint64) error {
	// Linux's checks (EINVAL): a segment that cannot fit in user space.
	if p.Filesz > p.Memsz || p.Vaddr >= taskSize || p.Memsz > taskSize || taskSize-p.Memsz < p.Vaddr {
		return errorf(linux.EINVAL, "PT_LOAD vaddr %#x filesz %#x memsz %#x does not fit in user space", p.Vaddr, p.Filesz, p.Memsz)
	}
	if p.Filesz == 0 {
		return nil
	}
	// mmap needs the file offset and address congruent modulo the page
	// size; Linux's mmap fails with EINVAL otherwise.
	if pageOff(p.Off) != pageOff(p.Vaddr) {
		return errorf(linux.EINVAL, "PT_LOAD offset %#x and vaddr %#x not congruent modulo the page size", p.Off, p.Vaddr)
	}
	if p.Off > fileSize || p.Filesz > fileSize-p.Off {
		return errorf(linux.ENOEXEC, "PT_LOAD file range %#x+%#x past end of file (%d bytes)", p.Off, p.Filesz, fileSize)
	}
	return nil
}

// readInterp reads the PT_INTERP path. Like Linux it must be NUL
// terminated; the path is the C string up to the first NUL.
func readInterp(f File, p *linux.ElfProg64, fileSize uint64) (string, error) {
	if p.Filesz < minInterpLen || p.Filesz > maxInterpLen {
		return "", errorf(linux.ENOEXEC, "PT_INTERP size %d", p.Filesz)
	}
	if p.Off > fileSize || p.Filesz > fileSize-p.Off {
		return "", errorf(linux.ENOEXEC, "PT_INTERP past end of file")
	}
	b := make([]byte, p.Filesz)
	if err := readFull(f, b, int64(p.Off), linux.ENOEXEC, "PT_INTERP"); err != nil {
		return "", err
	}
	if b[len(b)-1] != 0 {
		return "", errorf(linux.ENOEXEC, "PT_INTERP not NUL terminated")
	}
	return string(b[:bytes.IndexByte(b, 0)]), nil
}

// span is the page-aligned extent of the image's segments before
// relocation: Linux's total_mapping_size.
func (img *elfImage) span() (start, end uint64) {
	first, last := &img.loads[0], &img.loads[len(img.loads)-1]
	end, _ = pageUp(last.Vaddr + last.Memsz) // checkLoad bounded it below taskSize
	return pageDown(first.Vaddr), end
}

// phdrVaddr is the unrelocated address where the program headers are
// found in memory, for AT_PHDR. Like Linux it is the image of e_phoff in
// the PT_LOAD whose file range contains it. When none does, PT_PHDR's
// address is used if the file has one, else 0 (so AT_PHDR is the load
// bias, which is what Linux reports then).
func (img *elfImage) phdrVaddr() uint64 {
	off := img.hdr.Phoff
	for i := range img.loads {
		p := &img.loads[i]
		if p.Off <= off && off-p.Off < p.Filesz {
			return off - p.Off + p.Vaddr
		}
	}
	for i := range img.phdrs {
		if img.phdrs[i].Type == linux.PT_PHDR {
			return img.phdrs[i].Vaddr
		}
	}
	return 0
}

// protOf turns p_flags into mmap protections.
func protOf(flags uint32) int {
	prot := 0
	if flags&linux.PF_R != 0 {
		prot |= linux.PROT_READ
	}
	if flags&linux.PF_W != 0 {
		prot |= linux.PROT_WRITE
	}
	if flags&linux.PF_X != 0 {
		prot |= linux.PROT_EXEC
	}
	return prot
}
