package stub

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exec starts a pristine stub process holding memFD at MemFD and returns
// its pid. The process is stopped at the SIGTRAP that follows a traced
// execve and has not been waited for.
//
// The calling goroutine must be locked to its OS thread
// (runtime.LockOSThread). That thread becomes the stub's tracer
// (PTRACE_TRACEME) and its parent; since Linux delivers PR_SET_PDEATHSIG
// when the parent *thread* exits, the stub, and every stub later cloned
// from it with CLONE_PARENT, dies when that thread exits. The caller must
// therefore keep the thread alive, and locked, as long as the stubs are
// wanted.
//
// Exec needs fork and execve and /proc/self/fd (the image is exec'd from a
// memfd by that path): call it before the Sentry's seccomp filter and
// before /proc becomes unreachable.
func Exec(memFD int) (int, error) {
	fd, err := unix.MemfdCreate("appkernel-stub", unix.MFD_CLOEXEC)
	if err != nil {
		return 0, fmt.Errorf("stub: memfd_create: %w", err)
	}
	defer unix.Close(fd)
	// The child dup2s memFD onto MemFD before exec; the image's fd must
	// not be the one overwritten.
	if fd <= MemFD {
		nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, MemFD+1)
		if err != nil {
			return 0, fmt.Errorf("stub: dup: %w", err)
		}
		defer unix.Close(nfd)
		fd = nfd
	}
	img := image
	for len(img) > 0 {
		n, err := unix.Write(fd, img)
		if err != nil {
			return 0, fmt.Errorf("stub: write image: %w", err)
		}
		img = img[n:]
	}
	files := make([]uintptr, MemFD+1)
	for i := range files {
		files[i] = ^uintptr(0)
	}
	files[MemFD] = uintptr(memFD)
	pid, err := syscall.ForkExec(fmt.Sprintf("/proc/self/fd/%d", fd), []string{"appkernel-stub"}, &syscall.ProcAttr{
		Env:   []string{},
		Files: files,
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Pdeathsig: syscall.SIGKILL,
			Setsid:    true,
		},
	})
	if err != nil {
		return 0, fmt.Errorf("stub: exec: %w", err)
	}
	return pid, nil
}
