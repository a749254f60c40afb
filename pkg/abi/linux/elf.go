package linux

// ELF identification (e_ident) indexes and values.
const (
	EI_MAG0       = 0
	EI_MAG1       = 1
	EI_MAG2       = 2
	EI_MAG3       = 3
	EI_CLASS      = 4
	EI_DATA       = 5
	EI_VERSION    = 6
	EI_OSABI      = 7
	EI_ABIVERSION = 8
	EI_NIDENT     = 16

	ELFMAG = "\x7fELF"

	ELFCLASSNONE = 0
	ELFCLASS32   = 1
	ELFCLASS64   = 2

	ELFDATANONE = 0
	ELFDATA2LSB = 1
	ELFDATA2MSB = 2

	EV_NONE    = 0
	EV_CURRENT = 1

	ELFOSABI_NONE  = 0
	ELFOSABI_LINUX = 3
)

// Object file types (e_type).
const (
	ET_NONE = 0
	ET_REL  = 1
	ET_EXEC = 2
	ET_DYN  = 3
	ET_CORE = 4
)

// Machines (e_machine) the loader accepts or must reject by name.
const (
	EM_386     = 3
	EM_ARM     = 40
	EM_X86_64  = 62
	EM_AARCH64 = 183
)

// Program header types (p_type).
const (
	PT_NULL         = 0
	PT_LOAD         = 1
	PT_DYNAMIC      = 2
	PT_INTERP       = 3
	PT_NOTE         = 4
	PT_SHLIB        = 5
	PT_PHDR         = 6
	PT_TLS          = 7
	PT_LOOS         = 0x60000000
	PT_GNU_EH_FRAME = 0x6474e550
	PT_GNU_STACK    = 0x6474e551
	PT_GNU_RELRO    = 0x6474e552
	PT_GNU_PROPERTY = 0x6474e553
	PT_LOPROC       = 0x70000000
	PT_HIPROC       = 0x7fffffff
)

// Segment permission flags (p_flags).
const (
	PF_X = 0x1
	PF_W = 0x2
	PF_R = 0x4
)

// Section header types (sh_type) and special indexes.
const (
	SHT_NULL     = 0
	SHT_PROGBITS = 1
	SHT_SYMTAB   = 2
	SHT_STRTAB   = 3
	SHT_RELA     = 4
	SHT_HASH     = 5
	SHT_DYNAMIC  = 6
	SHT_NOTE     = 7
	SHT_NOBITS   = 8
	SHT_REL      = 9
	SHT_DYNSYM   = 11
	SHN_UNDEF    = 0
	SHN_XINDEX   = 0xffff
	// PN_XNUM in e_phnum means the real count is in section 0's sh_info.
	PN_XNUM = 0xffff
)

// ElfHeader64 is Elf64_Ehdr.
type ElfHeader64 struct {
	Ident     [EI_NIDENT]byte
	Type      uint16
	Machine   uint16
	Version   uint32
	Entry     uint64
	Phoff     uint64
	Shoff     uint64
	Flags     uint32
	Ehsize    uint16
	Phentsize uint16
	Phnum     uint16
	Shentsize uint16
	Shnum     uint16
	Shstrndx  uint16
}

// SizeofElfHeader64 is sizeof(Elf64_Ehdr).
const SizeofElfHeader64 = 64

// SizeBytes implements marshal.Marshallable.
func (*ElfHeader64) SizeBytes() int { return SizeofElfHeader64 }

// MarshalBytes implements marshal.Marshallable.
func (h *ElfHeader64) MarshalBytes(dst []byte) []byte {
	_ = dst[63]
	copy(dst[0:16], h.Ident[:])
	le.PutUint16(dst[16:], h.Type)
	le.PutUint16(dst[18:], h.Machine)
	le.PutUint32(dst[20:], h.Version)
	le.PutUint64(dst[24:], h.Entry)
	le.PutUint64(dst[32:], h.Phoff)
	le.PutUint64(dst[40:], h.Shoff)
	le.PutUint32(dst[48:], h.Flags)
	le.PutUint16(dst[52:], h.Ehsize)
	le.PutUint16(dst[54:], h.Phentsize)
	le.PutUint16(dst[56:], h.Phnum)
	le.PutUint16(dst[58:], h.Shentsize)
	le.PutUint16(dst[60:], h.Shnum)
	le.PutUint16(dst[62:], h.Shstrndx)
	return dst[64:]
}

// UnmarshalBytes implements marshal.Marshallable. It decodes little-endian
// fields only; the loader must check Ident[EI_DATA] first.
func (h *ElfHeader64) UnmarshalBytes(src []byte) []byte {
	_ = src[63]
	copy(h.Ident[:], src[0:16])
	h.Type = le.Uint16(src[16:])
	h.Machine = le.Uint16(src[18:])
	h.Version = le.Uint32(src[20:])
	h.Entry = le.Uint64(src[24:])
	h.Phoff = le.Uint64(src[32:])
	h.Shoff = le.Uint64(src[40:])
	h.Flags = le.Uint32(src[48:])
	h.Ehsize = le.Uint16(src[52:])
	h.Phentsize = le.Uint16(src[54:])
	h.Phnum = le.Uint16(src[56:])
	h.Shentsize = le.Uint16(src[58:])
	h.Shnum = le.Uint16(src[60:])
	h.Shstrndx = le.Uint16(src[62:])
	return src[64:]
}

// ElfProg64 is Elf64_Phdr.
type ElfProg64 struct {
	Type   uint32
	Flags  uint32
	Off    uint64
	Vaddr  uint64
	Paddr  uint64
	Filesz uint64
	Memsz  uint64
	Align  uint64
}

// SizeofElfProg64 is sizeof(Elf64_Phdr).
const SizeofElfProg64 = 56

// SizeBytes implements marshal.Marshallable.
func (*ElfProg64) SizeBytes() int { return SizeofElfProg64 }

// MarshalBytes implements marshal.Marshallable.
func (p *ElfProg64) MarshalBytes(dst []byte) []byte {
	_ = dst[55]
	le.PutUint32(dst[0:], p.Type)
	le.PutUint32(dst[4:], p.Flags)
	le.PutUint64(dst[8:], p.Off)
	le.PutUint64(dst[16:], p.Vaddr)
	le.PutUint64(dst[24:], p.Paddr)
	le.PutUint64(dst[32:], p.Filesz)
	le.PutUint64(dst[40:], p.Memsz)
	le.PutUint64(dst[48:], p.Align)
	return dst[56:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (p *ElfProg64) UnmarshalBytes(src []byte) []byte {
	_ = src[55]
	p.Type = le.Uint32(src[0:])
	p.Flags = le.Uint32(src[4:])
	p.Off = le.Uint64(src[8:])
	p.Vaddr = le.Uint64(src[16:])
	p.Paddr = le.Uint64(src[24:])
	p.Filesz = le.Uint64(src[32:])
	p.Memsz = le.Uint64(src[40:])
	p.Align = le.Uint64(src[48:])
	return src[56:]
}

// ElfSection64 is Elf64_Shdr.
type ElfSection64 struct {
	Name      uint32
	Type      uint32
	Flags     uint64
	Addr      uint64
	Off       uint64
	Size      uint64
	Link      uint32
	Info      uint32
	Addralign uint64
	Entsize   uint64
}

// SizeofElfSection64 is sizeof(Elf64_Shdr).
const SizeofElfSection64 = 64

// SizeBytes implements marshal.Marshallable.
func (*ElfSection64) SizeBytes() int { return SizeofElfSection64 }

// MarshalBytes implements marshal.Marshallable.
func (s *ElfSection64) MarshalBytes(dst []byte) []byte {
	_ = dst[63]
	le.PutUint32(dst[0:], s.Name)
	le.PutUint32(dst[4:], s.Type)
	le.PutUint64(dst[8:], s.Flags)
	le.PutUint64(dst[16:], s.Addr)
	le.PutUint64(dst[24:], s.Off)
	le.PutUint64(dst[32:], s.Size)
	le.PutUint32(dst[40:], s.Link)
	le.PutUint32(dst[44:], s.Info)
	le.PutUint64(dst[48:], s.Addralign)
	le.PutUint64(dst[56:], s.Entsize)
	return dst[64:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *ElfSection64) UnmarshalBytes(src []byte) []byte {
	_ = src[63]
	s.Name = le.Uint32(src[0:])
	s.Type = le.Uint32(src[4:])
	s.Flags = le.Uint64(src[8:])
	s.Addr = le.Uint64(src[16:])
	s.Off = le.Uint64(src[24:])
	s.Size = le.Uint64(src[32:])
	s.Link = le.Uint32(src[40:])
	s.Info = le.Uint32(src[44:])
	s.Addralign = le.Uint64(src[48:])
	s.Entsize = le.Uint64(src[56:])
	return src[64:]
}
