package platformtest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// Many contexts at once: every context's registers stay its own, whether
// they share an address space (and so the host threads serving it) or
// not.

// RunCounters runs one goroutine per context for iters syscalls each,
// context g in spaces[g%len(spaces)].
func RunCounters(t *testing.T, e Env, spaces []platform.AddressSpace, n, iters int) {
	contexts := make([]platform.Context, n)
	for g := range contexts {
		contexts[g] = e.NewContext()
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			as, c := spaces[g%len(spaces)], contexts[g]
			ac := At(CodeAddr)
			ac.Regs.R13 = uint64(g) << 32
			ac.Regs.FsBase = uint64(g) << 12
			for i := 0; i < iters; i++ {
				tr, err := c.Switch(as, ac)
				if err != nil {
					errs <- fmt.Errorf("goroutine %d iteration %d: %v", g, i, err)
					return
				}
				if tr.Kind != platform.TrapSyscall || ac.Regs.OrigRax != 39 || ac.Regs.R12 != uint64(i) ||
					ac.Regs.R13 != uint64(g)<<32 || ac.Regs.FsBase != uint64(g)<<12 {
					errs <- fmt.Errorf("goroutine %d iteration %d: trap %v orig_rax %d r12 %d r13 %#x fs %#x",
						g, i, tr.Kind, ac.Regs.OrigRax, ac.Regs.R12, ac.Regs.R13, ac.Regs.FsBase)
					return
				}
				ac.Regs.Rax = uint64(g)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func manyContextsOneAddressSpace(t *testing.T, e Env) {
	as := e.NewAddressSpace()
	loadProg(t, e, as, 0, Count)
	RunCounters(t, e, []platform.AddressSpace{as}, 8, 1000)
	if tc, ok := e.(StubThreadCounter); ok {
		n := tc.StubThreads(as)
		if n < 1 || n > 8 {
			t.Errorf("%d stub threads for 8 contexts", n)
		}
		t.Logf("%d stub threads served 8 goroutines", n)
	}
}

func manyContextsManyAddressSpaces(t *testing.T, e Env) {
	e.Write(0, Count)
	var spaces []platform.AddressSpace
	for i := 0; i < 4; i++ {
		as := e.NewAddressSpace()
		mapFile(t, as, CodeAddr, 0, Page, platform.AccessType{Read: true, Execute: true})
		spaces = append(spaces, as)
	}
	RunCounters(t, e, spaces, 8, 1000)
}
