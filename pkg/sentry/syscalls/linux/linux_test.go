package linux

import (
	"runtime"
	"syscall"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

func TestTableIsRegisteredForThisArch(t *testing.T) {
	got, ok := kernel.LookupSyscallTable("linux", runtime.GOARCH)
	if !ok || got != Table {
		t.Fatalf("LookupSyscallTable(linux, %s) = %v, %v; want the generated Table", runtime.GOARCH, got, ok)
	}
	if Table.Arch != runtime.GOARCH {
		t.Errorf("Table.Arch = %q, want %q: the wrong generated file was compiled", Table.Arch, runtime.GOARCH)
	}
}

// The standard library's per-arch SYS_ constants are a second, independent
// check that the compiled table uses this architecture's numbering.
func TestTableNumbering(t *testing.T) {
	for sysno, want := range map[uintptr]string{
		syscall.SYS_READ:       "read",
		syscall.SYS_OPENAT:     "openat",
		syscall.SYS_EXIT_GROUP: "exit_group",
		syscall.SYS_CLONE:      "clone",
	} {
		s, ok := Table.Lookup(sysno)
		if !ok || s.Name != want {
			t.Errorf("Lookup(%d) = %q, %v; want %q", sysno, s.Name, ok, want)
		}
	}
}

func TestEntriesAreConsistent(t *testing.T) {
	n := 0
	for sysno, s := range Table.All() {
		n++
		hasFn := s.Fn != nil
		wantsFn := s.Support == kernel.SupportFull || s.Support == kernel.SupportPartial
		if hasFn != wantsFn {
			t.Errorf("%s (%d): support %v but handler present = %v", s.Name, sysno, s.Support, hasFn)
		}
		if !hasFn && s.UnimplementedErrno() == 0 {
			t.Errorf("%s (%d): no handler and no errno", s.Name, sysno)
		}
	}
	if n < 300 {
		t.Errorf("table has only %d syscalls; is the spec truncated?", n)
	}
}
