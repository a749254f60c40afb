package metricserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"appkernel.dev/appkernel/pkg/log"
)

// Spawn describes how to start a server when none listens.
type Spawn struct {
	// Root and Addr are the server's.
	Root, Addr string
	// Exe is the runsc binary (default: this process's).
	Exe string
	// GlobalArgs are runsc global flags to pass before the command
	// (logging, say); --root is added.
	GlobalArgs []string
}

// errOtherServer means something else answers at the address.
var errOtherServer = errors.New("another server listens there")

// probe asks addr who it is: nil if our server for root answers.
func probe(addr, root string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + IdentityPath)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var id Identity
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&id) != nil {
		return fmt.Errorf("%w (not a runsc metric server)", errOtherServer)
	}
	if id.Root != root {
		return fmt.Errorf("%w (a metric server for root %s)", errOtherServer, id.Root)
	}
	return nil
}

// EnsureRunning makes sure a metric server for sp.Root listens at
// sp.Addr, starting one if nothing answers there. Call it once the
// container exists under the root: a server that is about to exit for
// want of sandboxes looks once more after it stops listening, and then
// finds it (see Server.Serve).
//
// The server is started detached: in a session of its own, with its
// stdio on /dev/null, not waited for. It is this process's child, not
// the sandbox's, so it stays out of the container's cgroup.
func EnsureRunning(sp Spawn) error {
	root, err := canonicalRoot(sp.Root)
	if err != nil {
		return err
	}
	err = probe(sp.Addr, root)
	if err == nil {
		return nil
	}
	if errors.Is(err, errOtherServer) {
		return fmt.Errorf("metrics server %s: %w", sp.Addr, err)
	}
	exe := sp.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return err
		}
	}
	args := append([]string{"--root=" + root}, sp.GlobalArgs...)
	args = append(args, "metric-server", "--addr="+sp.Addr)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the metric server: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	log.Infof("started metric server (pid %d) for %s on %s", pid, root, sp.Addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = probe(sp.Addr, root)
		if err == nil || errors.Is(err, errOtherServer) {
			break
		}
		select {
		case <-exited:
			// It lost a race for the address to another one; that one
			// serves, unless it is for another root.
			err = probe(sp.Addr, root)
			if err != nil {
				return fmt.Errorf("metric server exited: %w", err)
			}
			return nil
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("metric server did not answer on %s: %w", sp.Addr, err)
		}
	}
	if err != nil {
		return fmt.Errorf("metrics server %s: %w", sp.Addr, err)
	}
	// Leave it running; this process exits without waiting for it.
	cmd.Process.Release()
	return nil
}

// canonicalRoot is root made absolute and free of symlinks (created if
// missing), as a server reports it.
func canonicalRoot(root string) (string, error) {
	if root == "" {
		return "", errors.New("metric server: no root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o711); err != nil {
		return "", fmt.Errorf("metric server: root: %w", err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", fmt.Errorf("metric server: root: %w", err)
	}
	return abs, nil
}
