package loader

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// loaded describes an image after mapping.
type loaded struct {
	// bias is what was added to every p_vaddr (0 for ET_EXEC).
	bias uint64
	// entry is the relocated e_entry.
	entry uint64
	// phdr is the relocated address of the program headers (AT_PHDR).
	phdr uint64
	// end is the relocated end of the highest segment (p_vaddr+p_memsz),
	// where the bss ends and Linux starts the brk area.
	end uint64
}

// placement says where mapImage puts an ET_DYN image.
type placement struct {
	// fixed requests bias exactly; otherwise the Mapper chooses, with the
	// image's first page address as a hint.
	fixed bool
	bias  uint64
}

// mapImage maps img's PT_LOAD segments from f. ET_EXEC images go to their
// link addresses; ET_DYN images where place says.
func mapImage(m Mapper, f File, img *elfImage, place placement, taskSize uint64) (loaded, error) {
	start, end := img.span()
	var bias uint64
	switch {
	case img.hdr.Type == linux.ET_EXEC:
		bias = 0
	case place.fixed:
		bias = place.bias
	default:
		b, err := chooseBias(m, start, end-start, img.maxAlign)
		if err != nil {
			return loaded{}, err
		}
		bias = b
	}
	// bias is modular: an ET_DYN linked above where it lands has a
	// "negative" one. What must hold is that the relocated image lies
	// inside user space without wrapping.
	if lo, hi := start+bias, end+bias; lo > hi || hi > taskSize {
		return loaded{}, errorf(linux.ENOMEM, "image %#x-%#x with bias %#x outside user space", start, end, bias)
	}
	for i := range img.loads {
		if err := mapSegment(m, f, &img.loads[i], bias); err != nil {
			return loaded{}, err
		}
	}
	last := &img.loads[len(img.loads)-1]
	return loaded{
		bias:  bias,
		entry: img.hdr.Entry + bias,
		phdr:  img.phdrVaddr() + bias,
		end:   last.Vaddr + last.Memsz + bias,
	}, nil
}

// chooseBias finds room for an image of length bytes, linked at start,
// aligned to align, by asking the Mapper for a non-fixed reservation and
// releasing it; the segments are then mapped fixed into the same range.
// This is Linux's "map the total size, then unmap the rest" in two steps.
func chooseBias(m Mapper, start, length, align uint64) (uint64, error) {
	extra := uint64(0)
	if align > linux.PageSize {
		extra = align - linux.PageSize
	}
	if length+extra < length {
		return 0, errorf(linux.ENOMEM, "alignment %#x too large", align)
	}
	addr, err := m.MapAnon(uintptr(start), uintptr(length+extra), linux.PROT_NONE, false, false)
	if err != nil {
		return 0, err
	}
	if err := m.Unmap(addr, uintptr(length+extra)); err != nil {
		return 0, err
	}
	// The bias itself must be aligned so that every segment keeps its
	// p_vaddr modulo p_align; rounding it up moves the image by less
	// than extra, so it stays inside the reservation.
	bias := uint64(addr) - start
	return (bias + align - 1) &^ (align - 1), nil
}

// mapSegment maps one PT_LOAD at p_vaddr+bias: the file part privately,
// the bss tail of the last file page zeroed, and anonymous memory for the
// rest of p_memsz.
func mapSegment(m Mapper, f File, p *linux.ElfProg64, bias uint64) error {
	prot := protOf(p.Flags)
	vaddr := p.Vaddr + bias
	fileEnd := vaddr + p.Filesz
	memEnd := vaddr + p.Memsz
	if p.Filesz > 0 {
		mapStart := pageDown(vaddr)
		mapEnd, _ := pageUp(fileEnd)
		off := int64(p.Off - pageOff(p.Vaddr))
		if _, err := m.MapFile(uintptr(mapStart), uintptr(mapEnd-mapStart), f, off, prot, true); err != nil {
			return err
		}
		// The rest of the last file page holds whatever follows the
		// segment in the file; the bss must read as zero. Like Linux,
		// this is only done (and only possible) when the segment is
		// writable.
		if p.Memsz > p.Filesz && pageOff(fileEnd) != 0 && prot&linux.PROT_WRITE != 0 {
			if err := m.ZeroOut(uintptr(fileEnd), uintptr(mapEnd-fileEnd)); err != nil {
				return err
			}
		}
	}
	if p.Memsz > p.Filesz {
		zeroStart, _ := pageUp(fileEnd)
		if p.Filesz == 0 {
			zeroStart = pageDown(vaddr)
		}
		zeroEnd, _ := pageUp(memEnd)
		if zeroEnd > zeroStart {
			// Linux maps the bss like brk memory: readable and
			// writable whatever p_flags say, executable if the
			// segment is.
			anonProt := linux.PROT_READ | linux.PROT_WRITE | (prot & linux.PROT_EXEC)
			if _, err := m.MapAnon(uintptr(zeroStart), uintptr(zeroEnd-zeroStart), anonProt, true, false); err != nil {
				return err
			}
		}
	}
	return nil
}
