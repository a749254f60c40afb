package linux

// Auxiliary vector entry types (AT_*), which the loader pushes above envp.
// These share the AT_ prefix with the *at() flags in fcntl.go but are an
// unrelated number space.
const (
	AT_NULL              = 0
	AT_IGNORE            = 1
	AT_EXECFD            = 2
	AT_PHDR              = 3
	AT_PHENT             = 4
	AT_PHNUM             = 5
	AT_PAGESZ            = 6
	AT_BASE              = 7
	AT_FLAGS             = 8
	AT_ENTRY             = 9
	AT_NOTELF            = 10
	AT_UID               = 11
	AT_EUID              = 12
	AT_GID               = 13
	AT_EGID              = 14
	AT_PLATFORM          = 15
	AT_HWCAP             = 16
	AT_CLKTCK            = 17
	AT_SECURE            = 23
	AT_BASE_PLATFORM     = 24
	AT_RANDOM            = 25
	AT_HWCAP2            = 26
	AT_RSEQ_FEATURE_SIZE = 27
	AT_RSEQ_ALIGN        = 28
	AT_HWCAP3            = 29
	AT_HWCAP4            = 30
	AT_EXECFN            = 31
	// AT_SYSINFO_EHDR is the address of the vDSO's ELF header.
	AT_SYSINFO_EHDR = 33
	AT_MINSIGSTKSZ  = 51
)

// AuxEntry is one Elf64_auxv_t: a type and a value.
type AuxEntry struct {
	Key   uint64
	Value uint64
}

// SizeBytes implements marshal.Marshallable.
func (*AuxEntry) SizeBytes() int { return 16 }

// MarshalBytes implements marshal.Marshallable.
func (a *AuxEntry) MarshalBytes(dst []byte) []byte {
	_ = dst[15]
	le.PutUint64(dst[0:], a.Key)
	le.PutUint64(dst[8:], a.Value)
	return dst[16:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (a *AuxEntry) UnmarshalBytes(src []byte) []byte {
	_ = src[15]
	a.Key = le.Uint64(src[0:])
	a.Value = le.Uint64(src[8:])
	return src[16:]
}
