package platformtest

import (
	"encoding/binary"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// Page faults: what a fault reports, and that the faulting instruction
// reruns once the Sentry maps the page.

func faultThenMap(t *testing.T, newEnv func(*testing.T) Env, opts Options) {
	for _, tc := range []struct {
		name  string
		prog  []byte
		write bool
	}{{"read", Load, false}, {"write", Store, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			as := e.NewAddressSpace()
			loadProg(t, e, as, 0, tc.prog)
			c := e.NewContext()
			ac := At(CodeAddr)
			ac.Regs.Rbx = DataAddr + 0x18
			ac.Regs.Rcx = 0xdead_beef_cafe
			ac.Regs.Rdi = 7
			tr := MustSwitch(t, c, as, ac, platform.TrapFault)
			if tr.Addr != DataAddr+0x18 {
				t.Errorf("fault address %#x, want %#x", tr.Addr, DataAddr+0x18)
			}
			if tr.Info.Signo != int32(linux.SIGSEGV) || tr.Info.Code != linux.SEGV_MAPERR {
				t.Errorf("siginfo signo %d code %d", tr.Info.Signo, tr.Info.Code)
			}
			want := platform.Read
			if tc.write {
				want = platform.AccessType{Write: true}
			}
			if opts.PreciseAccess && tr.Access != want {
				t.Errorf("access %v, want %v", tr.Access, want)
			}
			if tr.Access.Execute {
				t.Errorf("data fault reported as execute")
			}
			if ac.Regs.Rip != CodeAddr {
				t.Errorf("rip %#x, want the faulting instruction %#x", ac.Regs.Rip, CodeAddr)
			}
			var v [8]byte
			binary.LittleEndian.PutUint64(v[:], 0x1122_3344_5566_7788)
			e.Write(0x10018, v[:])
			mapFile(t, as, DataAddr, 0x10000, Page, platform.ReadWrite)
			MustSwitch(t, c, as, ac, platform.TrapSyscall)
			if tc.write {
				if got := binary.LittleEndian.Uint64(e.Read(0x10018, 8)); got != 0xdead_beef_cafe {
					t.Errorf("memory file holds %#x after the store", got)
				}
				if ac.Regs.Rdi != 7 {
					t.Errorf("rdi %d", ac.Regs.Rdi)
				}
			} else if ac.Regs.Rdi != 0x1122_3344_5566_7788 {
				t.Errorf("loaded %#x", ac.Regs.Rdi)
			}
		})
	}
}

func writeToReadOnly(t *testing.T, e Env, opts Options) {
	as := e.NewAddressSpace()
	loadProg(t, e, as, 0, Store)
	mapFile(t, as, DataAddr, 0x10000, Page, platform.Read)
	c := e.NewContext()
	ac := At(CodeAddr)
	ac.Regs.Rbx = DataAddr + 8
	ac.Regs.Rcx = 42
	tr := MustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != DataAddr+8 || tr.Info.Code != linux.SEGV_ACCERR {
		t.Errorf("fault at %#x code %d, want %#x SEGV_ACCERR", tr.Addr, tr.Info.Code, DataAddr+8)
	}
	if opts.PreciseAccess && tr.Access != (platform.AccessType{Write: true}) {
		t.Errorf("access %v, want write", tr.Access)
	}
	mapFile(t, as, DataAddr, 0x10000, Page, platform.ReadWrite)
	MustSwitch(t, c, as, ac, platform.TrapSyscall)
	if got := binary.LittleEndian.Uint64(e.Read(0x10008, 8)); got != 42 {
		t.Errorf("memory file holds %d", got)
	}
}

func executeFault(t *testing.T, e Env, opts Options) {
	as := e.NewAddressSpace()
	loadProg(t, e, as, 0, Jump)
	c := e.NewContext()
	ac := At(CodeAddr)
	ac.Regs.Rbx = DataAddr
	exec := platform.AccessType{Execute: true}
	tr := MustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != DataAddr || !tr.Access.Execute || tr.Info.Code != linux.SEGV_MAPERR {
		t.Errorf("fault at %#x access %v code %d, want %#x execute MAPERR", tr.Addr, tr.Access, tr.Info.Code, DataAddr)
	}
	if opts.PreciseAccess && tr.Access != exec {
		t.Errorf("access %v, want execute only", tr.Access)
	}
	// Mapped without execute: still an instruction fetch, which only the
	// page fault's error code tells.
	mapFile(t, as, DataAddr, 0x10000, Page, platform.Read)
	tr = MustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != DataAddr || tr.Info.Code != linux.SEGV_ACCERR {
		t.Errorf("fault at %#x code %d, want %#x SEGV_ACCERR", tr.Addr, tr.Info.Code, DataAddr)
	}
	if opts.PreciseAccess && tr.Access != exec {
		t.Errorf("access %v, want execute", tr.Access)
	}
}
