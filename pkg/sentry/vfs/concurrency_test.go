package vfs_test

import (
	"fmt"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Renames, creations, removals and walks racing in one tree must neither
// deadlock nor corrupt it (run with -race).
func TestConcurrentTreeChanges(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/a", 0755)
	e.mkdir("/b", 0755)
	e.mkdir("/a/x", 0755)
	e.mkdir("/a/x/y", 0755)
	var wg sync.WaitGroup
	const iters = 300
	wg.Add(4)
	go func() { // moves /a/x between /a and /b
		defer wg.Done()
		for i := 0; i < iters; i++ {
			e.vfs.RenameAt(e.ctx, e.creds, e.pop("/a/x"), e.pop("/b/x"), 0)
			e.vfs.RenameAt(e.ctx, e.creds, e.pop("/b/x"), e.pop("/a/x"), 0)
		}
	}()
	go func() { // tries to move x into its own subdirectory, wherever it is
		defer wg.Done()
		for i := 0; i < iters; i++ {
			for _, d := range []string{"/a", "/b"} {
				err := e.vfs.RenameAt(e.ctx, e.creds, e.pop(d+"/x"), e.pop(d+"/x/y/z"), 0)
				if err == nil {
					t.Error("moved a directory into itself")
					return
				}
			}
		}
	}()
	go func() { // creates and removes files inside the moving subtree
		defer wg.Done()
		for i := 0; i < iters; i++ {
			for _, d := range []string{"/a/x/y", "/b/x/y"} {
				p := fmt.Sprintf("%s/f%d", d, i)
				if fd, err := e.open(e.creds, p, linux.O_CREAT|linux.O_WRONLY, 0644); err == nil {
					fd.DecRef(e.ctx)
					// The directory may have moved since: look in both.
					name := fmt.Sprintf("x/y/f%d", i)
					for try := 0; try < 1000; try++ {
						if e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/a/"+name)) == nil ||
							e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/b/"+name)) == nil {
							break
						}
					}
				}
			}
		}
	}()
	go func() { // walks with .. and computes paths
		defer wg.Done()
		for i := 0; i < iters; i++ {
			for _, p := range []string{"/a/x/y/../..", "/b/x/y/.."} {
				vd, err := e.vfs.GetDentryAt(e.ctx, e.creds, e.pop(p), nil)
				if err == nil {
					e.vfs.PathnameWithDeleted(e.root, vd)
					vd.DecRef()
				}
			}
		}
	}()
	wg.Wait()
	st := e.stat("/a/x/y")
	if st.Nlink != 2 {
		t.Errorf("y has nlink %d", st.Nlink)
	}
	fd, _ := e.open(e.creds, "/a/x/y", linux.O_RDONLY, 0)
	defer fd.DecRef(e.ctx)
	if n := names(t, e.ctx, fd); len(n) != 2 {
		t.Errorf("leftover entries: %v", n)
	}
	if e.stat("/a").Nlink != 3 || e.stat("/b").Nlink != 2 {
		t.Error("link counts drifted")
	}
	_ = vfs.ErrInterrupted
}
