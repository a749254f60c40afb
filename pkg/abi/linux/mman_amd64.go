package linux

// MAP_32BIT asks for a mapping in the low 2 GiB, historically for
// faster context switches on early x86-64 CPUs; only amd64 has it.
const MAP_32BIT = 0x40
