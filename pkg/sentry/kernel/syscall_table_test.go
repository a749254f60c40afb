package kernel

import (
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
)

func testTable() *SyscallTable {
	return NewSyscallTable("linux", "test", []Syscall{
		0: {Name: "read", Support: SupportNotImplemented},
		// 1 is a hole in the numbering.
		2: {Name: "reboot", Support: SupportUnsupported, Errno: syscall.EPERM},
	})
}

func TestLookup(t *testing.T) {
	tbl := testTable()
	if s, ok := tbl.Lookup(0); !ok || s.Name != "read" {
		t.Errorf("Lookup(0) = %+v, %v", s, ok)
	}
	for _, sysno := range []uintptr{1, 3, ^uintptr(0)} {
		if s, ok := tbl.Lookup(sysno); ok {
			t.Errorf("Lookup(%d) = %+v; want no syscall", sysno, s)
		}
	}
	var names []string
	for _, s := range tbl.All() {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"read", "reboot"}) {
		t.Errorf("All yielded %v", names)
	}
}

func TestUnimplementedErrno(t *testing.T) {
	tbl := testTable()
	read, _ := tbl.Lookup(0)
	reboot, _ := tbl.Lookup(2)
	if got := read.UnimplementedErrno(); got != syscall.ENOSYS {
		t.Errorf("read: got %v, want ENOSYS by default", got)
	}
	if got := reboot.UnimplementedErrno(); got != syscall.EPERM {
		t.Errorf("reboot: got %v, want EPERM", got)
	}
}

func TestUnimplementedCounts(t *testing.T) {
	tbl := testTable()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				tbl.RecordUnimplemented(0)
			}
			tbl.RecordUnimplemented(1)
			tbl.RecordUnimplemented(1000)
		})
	}
	wg.Wait()
	counts, outOfRange := tbl.UnimplementedCounts()
	want := []UnimplementedCount{
		{Sysno: 0, Name: "read", Count: 800},
		{Sysno: 1, Name: "", Count: 8},
	}
	if !slices.Equal(counts, want) || outOfRange != 8 {
		t.Errorf("UnimplementedCounts() = %+v, %d; want %+v, 8", counts, outOfRange, want)
	}
}

func TestSupportString(t *testing.T) {
	for s, want := range map[SyscallSupport]string{
		SupportFull:           "full",
		SupportPartial:        "partial",
		SupportUnsupported:    "unsupported",
		SupportNotImplemented: "notimpl",
		SyscallSupport(9):     "SyscallSupport(9)",
	} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}

// registerTestRuns makes each run of TestRegisterSyscallTable (go test
// -count=N) use its own OS name in the process-wide registry.
var registerTestRuns int

func TestRegisterSyscallTable(t *testing.T) {
	registerTestRuns++
	testOS := fmt.Sprintf("testos%d", registerTestRuns)
	tbl := NewSyscallTable(testOS, "testarch", nil)
	RegisterSyscallTable(tbl)
	if got, ok := LookupSyscallTable(testOS, "testarch"); !ok || got != tbl {
		t.Fatalf("LookupSyscallTable = %v, %v", got, ok)
	}
	if _, ok := LookupSyscallTable(testOS, "other"); ok {
		t.Error("found a table that was never registered")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a second table for testos/testarch did not panic")
		}
	}()
	RegisterSyscallTable(NewSyscallTable(testOS, "testarch", nil))
}
