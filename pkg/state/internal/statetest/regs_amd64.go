package statetest

// Regs has a per-architecture layout, like a task's saved registers; the
// generator writes its methods to a file with the same constraint.
//
// +stateify savable
type Regs struct {
	RAX, RBX, RIP, RSP uint64
	FSBase             uint64
}
