package kernel

import (
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"syscall"

	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// SyscallSupport says how completely the Sentry implements a system call. It
// is what the compatibility report shows users, so it must stay honest.
type SyscallSupport int

// The zero value is SupportNotImplemented so that an entry nobody classified
// is never reported as working.
const (
	// SupportNotImplemented: no handler yet; the call fails with ENOSYS and
	// is counted.
	SupportNotImplemented SyscallSupport = iota
	// SupportUnsupported: deliberately refused with a chosen errno (for
	// example EPERM for calls an unprivileged container could not make
	// either), and counted.
	SupportUnsupported
	// SupportPartial: a handler exists but some flags, modes or file types
	// are missing; the note says which.
	SupportPartial
	// SupportFull: behaves as Linux does for every input.
	SupportFull
)

// String returns the word the syscall spec uses for the level.
func (s SyscallSupport) String() string {
	switch s {
	case SupportNotImplemented:
		return "notimpl"
	case SupportUnsupported:
		return "unsupported"
	case SupportPartial:
		return "partial"
	case SupportFull:
		return "full"
	default:
		return fmt.Sprintf("SyscallSupport(%d)", int(s))
	}
}

// SyscallFn is a system call handler. It returns the value placed in the
// application's return register, or an error that the dispatcher translates
// to a negative errno.
type SyscallFn func(t *Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error)

// Syscall describes one entry of a syscall table.
type Syscall struct {
	// Name is the Linux name ("openat"); empty marks a number that is not a
	// system call on this architecture.
	Name string
	// Fn is the handler; nil unless Support is SupportFull or SupportPartial.
	Fn SyscallFn
	// Support is how completely Fn implements the call.
	Support SyscallSupport
	// Errno is what the call fails with when there is no handler. Zero
	// means ENOSYS; see UnimplementedErrno. (unix.Errno is the same type, so
	// handlers may use either package's constants.)
	Errno syscall.Errno
	// Note explains the state to a user reading the compatibility report or
	// a log line about an unimplemented call.
	Note string
}

// UnimplementedErrno is the error a call without a handler returns: Errno if
// one was chosen, otherwise ENOSYS, which is what Linux itself returns for a
// syscall it does not have and what libraries expect before falling back.
func (s *Syscall) UnimplementedErrno() syscall.Errno {
	if s.Errno == 0 {
		return syscall.ENOSYS
	}
	return s.Errno
}

// SyscallTable maps the system call numbers of one OS and architecture to
// their entries, and counts the calls that reached no handler so that the
// compatibility report can show what real programs are missing.
type SyscallTable struct {
	// OS is the ABI the table implements, e.g. "linux".
	OS string
	// Arch is the GOARCH whose numbering the table uses, e.g. "amd64".
	Arch string

	// entries is indexed by syscall number: numbers are small and dense, so
	// dispatch is one bounds check and one index.
	entries []Syscall
	// unimplemented[n] counts RecordUnimplemented(n) for n < len(entries).
	unimplemented []atomic.Uint64
	// outOfRange counts RecordUnimplemented(n) for n >= len(entries). One
	// shared counter, because the numbers come from the application and a
	// per-number map would let it grow memory without bound.
	outOfRange atomic.Uint64
}

// NewSyscallTable builds a table from entries indexed by syscall number.
// Entries with an empty Name are holes in the numbering.
func NewSyscallTable(goos, goarch string, entries []Syscall) *SyscallTable {
	return &SyscallTable{
		OS:            goos,
		Arch:          goarch,
		entries:       entries,
		unimplemented: make([]atomic.Uint64, len(entries)),
	}
}

// Lookup returns the entry for sysno, and false if sysno is not a system call
// on this architecture.
func (t *SyscallTable) Lookup(sysno uintptr) (Syscall, bool) {
	if sysno >= uintptr(len(t.entries)) || t.entries[sysno].Name == "" {
		return Syscall{}, false
	}
	return t.entries[sysno], true
}

// All yields every defined system call, in number order.
func (t *SyscallTable) All() iter.Seq2[uintptr, Syscall] {
	return func(yield func(uintptr, Syscall) bool) {
		for i, s := range t.entries {
			if s.Name != "" && !yield(uintptr(i), s) {
				return
			}
		}
	}
}

// RecordUnimplemented counts one call of sysno that reached no handler,
// whether or not sysno is a syscall on this architecture. It is safe for
// concurrent use.
func (t *SyscallTable) RecordUnimplemented(sysno uintptr) {
	if sysno < uintptr(len(t.unimplemented)) {
		t.unimplemented[sysno].Add(1)
		return
	}
	t.outOfRange.Add(1)
}

// UnimplementedCount is how often one syscall number reached no handler.
type UnimplementedCount struct {
	Sysno uintptr
	// Name is empty if Sysno is not a syscall on this architecture.
	Name  string
	Count uint64
}

// UnimplementedCounts returns the non-zero counts recorded by
// RecordUnimplemented, in number order, and the count of calls whose number
// lies beyond the table.
func (t *SyscallTable) UnimplementedCounts() (counts []UnimplementedCount, outOfRange uint64) {
	for i := range t.unimplemented {
		if n := t.unimplemented[i].Load(); n != 0 {
			counts = append(counts, UnimplementedCount{
				Sysno: uintptr(i),
				Name:  t.entries[i].Name,
				Count: n,
			})
		}
	}
	return counts, t.outOfRange.Load()
}

// syscallTables holds the registered tables, keyed by OS and arch.
var syscallTables sync.Map // map[syscallTableKey]*SyscallTable

type syscallTableKey struct{ os, arch string }

// RegisterSyscallTable makes t available to LookupSyscallTable. Tables are
// registered from package initialisation; registering two tables for the
// same OS and arch is a programming error and panics.
func RegisterSyscallTable(t *SyscallTable) {
	if _, loaded := syscallTables.LoadOrStore(syscallTableKey{t.OS, t.Arch}, t); loaded {
		panic(fmt.Sprintf("syscall table for %s/%s registered twice", t.OS, t.Arch))
	}
}

// LookupSyscallTable returns the table registered for goos and goarch.
func LookupSyscallTable(goos, goarch string) (*SyscallTable, bool) {
	t, ok := syscallTables.Load(syscallTableKey{goos, goarch})
	if !ok {
		return nil, false
	}
	return t.(*SyscallTable), true
}
