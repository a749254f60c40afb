package boot

import (
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// exitAsEnv makes the test binary a child that calls ExitAs.
const exitAsEnv = "BOOT_TEST_EXIT_AS"

func TestMain(m *testing.M) {
	if v := os.Getenv(exitAsEnv); v != "" {
		n, _ := strconv.ParseUint(v, 10, 32)
		// As in the sandbox: Go handles these signals itself.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGUSR1)
		ExitAs(linux.WaitStatus(n))
	}
	os.Exit(m.Run())
}

func TestExitAs(t *testing.T) {
	for _, ws := range []linux.WaitStatus{
		linux.WaitStatusExit(0), linux.WaitStatusExit(3), linux.WaitStatusExit(255),
		linux.WaitStatusSignaled(linux.SIGKILL, false), linux.WaitStatusSignaled(linux.SIGTERM, false),
		linux.WaitStatusSignaled(linux.SIGUSR1, false), linux.WaitStatusSignaled(linux.SIGSEGV, true),
		linux.WaitStatusSignaled(linux.SIGQUIT, false),
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), exitAsEnv+"="+strconv.FormatUint(uint64(ws), 10))
		err := cmd.Run()
		got := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			// No core file: the Sentry's memory is not the container's.
			if !got.Signaled() || int(got.Signal()) != int(ws.Signal()) || got.CoreDump() {
				t.Errorf("ExitAs(%#x): child status %#x (%v), want killed by %v without core", uint32(ws), got, err, ws.Signal())
			}
		} else if !got.Exited() || got.ExitStatus() != ws.ExitStatus() {
			t.Errorf("ExitAs(%#x): child status %#x, want exit %d", uint32(ws), got, ws.ExitStatus())
		}
	}
}
