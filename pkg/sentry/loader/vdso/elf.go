package vdso

import (
	"debug/elf"
	"encoding/binary"
)

// soname is the vDSO's DT_SONAME; C libraries show it in link maps
// (ldd prints it) and Linux uses the same name.
const soname = "linux-vdso.so.1"

// function is one entry point of the image: its code, assembled for the
// text's final position, and the names it is exported under.
type function struct {
	// off and size locate the code within the text.
	off, size uint64
	// global is the __vdso_ name, weak the plain alias C programs may
	// also look up (as Linux's vDSO exports both).
	global, weak string
}

// assembler produces the text given where it will sit in the image (for
// RIP-relative references to the vvar page before the image).
type assembler func(textOff uint64) (text []byte, funcs []function)

// Section indices of the image, in file order.
const (
	secNull = iota
	secHash
	secDynsym
	secDynstr
	secVersym
	secVerdef
	secDynamic
	secText
	secShstrtab
	numSections
)

var sectionNames = [numSections]string{"", ".hash", ".dynsym", ".dynstr", ".gnu.version", ".gnu.version_d", ".dynamic", ".text", ".shstrtab"}

// buildImage lays out an ELF64 little-endian ET_DYN shared object linked at
// address 0, with one read+execute PT_LOAD covering the whole file, a
// PT_DYNAMIC, SysV hash, dynamic symbols versioned as version (index 2,
// after the base definition named soname), and section headers for tools.
// It is what glibc's and musl's vDSO setup parse: the program headers, the
// dynamic section, DT_HASH, the symbol and string tables, DT_VERSYM and
// DT_VERDEF.
func buildImage(machine elf.Machine, version string, asm assembler) []byte {
	// The names the functions will have are not known before assembly,
	// but their count and lengths must be, to place the text: assemble
	// once at offset 0 for the symbol list, lay out, assemble again.
	_, probe := asm(0)

	strs := newStrtab()
	sonameOff := strs.add(soname)
	versionOff := strs.add(version)
	type sym struct {
		name       uint32
		fn         int
		bind       elf.SymBind
		nameString string
	}
	syms := []sym{{}} // index 0 is the null symbol
	for i, f := range probe {
		syms = append(syms, sym{strs.add(f.global), i, elf.STB_GLOBAL, f.global})
		syms = append(syms, sym{strs.add(f.weak), i, elf.STB_WEAK, f.weak})
	}
	nsyms := uint64(len(syms))

	const numPhdrs = 2
	const numVerdefs = 2
	const dynEntries = 10
	var l struct{ hash, dynsym, dynstr, versym, verdef, dynamic, text, shstrtab, shdrs, end uint64 }
	nbucket := nsyms
	pos := uint64(64 + numPhdrs*56)
	place := func(align, size uint64) uint64 {
		pos = (pos + align - 1) &^ (align - 1)
		at := pos
		pos += size
		return at
	}
	l.hash = place(8, 4*(2+nbucket+nsyms))
	l.dynsym = place(8, 24*nsyms)
	l.dynstr = place(1, uint64(len(strs.b)))
	l.versym = place(2, 2*nsyms)
	l.verdef = place(4, numVerdefs*(20+8))
	l.dynamic = place(8, 16*dynEntries)
	textAt := (pos + 15) &^ 15
	text, funcs := asm(textAt)
	if len(funcs) != len(probe) {
		panic("vdso: assembler output changed with the text offset")
	}
	l.text = place(16, uint64(len(text)))
	shstr := newStrtab()
	shNames := make([]uint32, numSections)
	for i, n := range sectionNames {
		shNames[i] = shstr.add(n)
	}
	l.shstrtab = place(1, uint64(len(shstr.b)))
	l.shdrs = place(8, 64*numSections)
	l.end = pos

	b := make([]byte, l.end)
	le := binary.LittleEndian

	// ELF header.
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	b[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	b[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	b[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	le.PutUint16(b[16:], uint16(elf.ET_DYN))
	le.PutUint16(b[18:], uint16(machine))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[24:], 0) // no entry point
	le.PutUint64(b[32:], 64)
	le.PutUint64(b[40:], l.shdrs)
	le.PutUint32(b[48:], 0)
	le.PutUint16(b[52:], 64)
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[56:], numPhdrs)
	le.PutUint16(b[58:], 64)
	le.PutUint16(b[60:], numSections)
	le.PutUint16(b[62:], secShstrtab)

	phdr := func(i int, typ elf.ProgType, flags elf.ProgFlag, off, size, align uint64) {
		p := b[64+56*i:]
		le.PutUint32(p[0:], uint32(typ))
		le.PutUint32(p[4:], uint32(flags))
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], off) // vaddr: linked at 0
		le.PutUint64(p[24:], off) // paddr
		le.PutUint64(p[32:], size)
		le.PutUint64(p[40:], size)
		le.PutUint64(p[48:], align)
	}
	phdr(0, elf.PT_LOAD, elf.PF_R|elf.PF_X, 0, l.end, 4096)
	phdr(1, elf.PT_DYNAMIC, elf.PF_R, l.dynamic, 16*dynEntries, 8)

	// Symbols and the SysV hash table over them.
	buckets := make([]uint32, nbucket)
	chains := make([]uint32, nsyms)
	for i := 1; i < len(syms); i++ {
		s := syms[i]
		f := funcs[s.fn]
		e := b[l.dynsym+24*uint64(i):]
		le.PutUint32(e[0:], s.name)
		e[4] = byte(s.bind)<<4 | byte(elf.STT_FUNC)
		e[5] = byte(elf.STV_DEFAULT)
		le.PutUint16(e[6:], secText)
		le.PutUint64(e[8:], l.text+f.off)
		le.PutUint64(e[16:], f.size)
		le.PutUint16(b[l.versym+2*uint64(i):], 2)

		h := elfHash(s.nameString) % uint32(nbucket)
		chains[i] = buckets[h]
		buckets[h] = uint32(i)
	}
	le.PutUint32(b[l.hash:], uint32(nbucket))
	le.PutUint32(b[l.hash+4:], uint32(nsyms))
	for i, v := range buckets {
		le.PutUint32(b[l.hash+8+4*uint64(i):], v)
	}
	for i, v := range chains {
		le.PutUint32(b[l.hash+8+4*(nbucket+uint64(i)):], v)
	}
	copy(b[l.dynstr:], strs.b)

	// Version definitions: 1 is the object itself (VER_FLG_BASE), 2 the
	// version every symbol carries.
	verdef := func(i int, flags uint16, name string, nameOff uint32, last bool) {
		d := b[l.verdef+28*uint64(i):]
		le.PutUint16(d[0:], 1) // VER_DEF_CURRENT
		le.PutUint16(d[2:], flags)
		le.PutUint16(d[4:], uint16(i+1))
		le.PutUint16(d[6:], 1) // one aux entry
		le.PutUint32(d[8:], elfHash(name))
		le.PutUint32(d[12:], 20) // aux right after
		if !last {
			le.PutUint32(d[16:], 28)
		}
		le.PutUint32(d[20:], nameOff)
		le.PutUint32(d[24:], 0)
	}
	const verFlgBase = 1
	verdef(0, verFlgBase, soname, sonameOff, false)
	verdef(1, 0, version, versionOff, true)

	dyn := []struct {
		tag elf.DynTag
		val uint64
	}{
		{elf.DT_SONAME, uint64(sonameOff)},
		{elf.DT_HASH, l.hash},
		{elf.DT_SYMTAB, l.dynsym},
		{elf.DT_SYMENT, 24},
		{elf.DT_STRTAB, l.dynstr},
		{elf.DT_STRSZ, uint64(len(strs.b))},
		{elf.DT_VERSYM, l.versym},
		{elf.DT_VERDEF, l.verdef},
		{elf.DT_VERDEFNUM, numVerdefs},
		{elf.DT_NULL, 0},
	}
	if len(dyn) != dynEntries {
		panic("vdso: dynamic section size")
	}
	for i, d := range dyn {
		le.PutUint64(b[l.dynamic+16*uint64(i):], uint64(d.tag))
		le.PutUint64(b[l.dynamic+16*uint64(i)+8:], d.val)
	}

	copy(b[l.text:], text)
	copy(b[l.shstrtab:], shstr.b)

	shdr := func(i int, typ elf.SectionType, flags elf.SectionFlag, off, size uint64, link, info uint32, align, entsize uint64) {
		s := b[l.shdrs+64*uint64(i):]
		le.PutUint32(s[0:], shNames[i])
		le.PutUint32(s[4:], uint32(typ))
		le.PutUint64(s[8:], uint64(flags))
		if flags&elf.SHF_ALLOC != 0 {
			le.PutUint64(s[16:], off)
		}
		le.PutUint64(s[24:], off)
		le.PutUint64(s[32:], size)
		le.PutUint32(s[40:], link)
		le.PutUint32(s[44:], info)
		le.PutUint64(s[48:], align)
		le.PutUint64(s[56:], entsize)
	}
	a := elf.SHF_ALLOC
	shdr(secHash, elf.SHT_HASH, a, l.hash, 4*(2+nbucket+nsyms), secDynsym, 0, 8, 4)
	shdr(secDynsym, elf.SHT_DYNSYM, a, l.dynsym, 24*nsyms, secDynstr, 1, 8, 24)
	shdr(secDynstr, elf.SHT_STRTAB, a, l.dynstr, uint64(len(strs.b)), 0, 0, 1, 0)
	shdr(secVersym, elf.SHT_GNU_VERSYM, a, l.versym, 2*nsyms, secDynsym, 0, 2, 2)
	shdr(secVerdef, elf.SHT_GNU_VERDEF, a, l.verdef, numVerdefs*28, secDynstr, numVerdefs, 4, 0)
	shdr(secDynamic, elf.SHT_DYNAMIC, a, l.dynamic, 16*dynEntries, secDynstr, 0, 8, 16)
	shdr(secText, elf.SHT_PROGBITS, a|elf.SHF_EXECINSTR, l.text, uint64(len(text)), 0, 0, 16, 0)
	shdr(secShstrtab, elf.SHT_STRTAB, 0, l.shstrtab, uint64(len(shstr.b)), 0, 0, 1, 0)
	return b
}

// strtab is an ELF string table under construction.
type strtab struct{ b []byte }

func newStrtab() *strtab { return &strtab{b: []byte{0}} }

func (t *strtab) add(s string) uint32 {
	if s == "" {
		return 0
	}
	off := uint32(len(t.b))
	t.b = append(append(t.b, s...), 0)
	return off
}

// elfHash is the System V ABI's symbol hash, used by DT_HASH and by
// version definitions.
func elfHash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
		}
		h &^= 0xf0000000
	}
	return h
}
