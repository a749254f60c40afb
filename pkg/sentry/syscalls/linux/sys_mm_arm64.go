package linux

// archMapFlags are the mmap flags only this architecture has: none on
// arm64.
const archMapFlags = 0
