package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Mode is where a workload runs: natively, or under `runsc do` on one
// platform.
type Mode struct {
	// Name labels the mode's table column: "native" or "runsc(PLATFORM)".
	Name string
	// Runsc is the runsc binary; empty for native runs.
	Runsc    string
	Platform string
	// Spawn is the spawn launcher (workloads/spawn.c) every command is
	// started through; empty starts commands directly, where peak RSS is
	// overstated (see Launch.MaxRSSKB).
	Spawn string
	// Timeout bounds each launch; 0 leaves only the caller's context.
	Timeout time.Duration
}

// Native is the mode that runs workloads directly on the host.
func Native() Mode { return Mode{Name: "native"} }

// Sandbox is the mode that runs workloads under `runsc do` on platform.
func Sandbox(runsc, platform string) Mode {
	return Mode{Name: "runsc(" + platform + ")", Runsc: runsc, Platform: platform}
}

// IsNative reports whether m runs workloads outside the sandbox.
func (m Mode) IsNative() bool { return m.Runsc == "" }

// WithSpawn returns m starting its commands through the launcher spawn.
func (m Mode) WithSpawn(spawn string) Mode {
	m.Spawn = spawn
	return m
}

// Argv returns the command line that runs argv in this mode, without the
// launcher.
func (m Mode) Argv(argv []string) []string {
	if m.IsNative() {
		return append([]string(nil), argv...)
	}
	return append([]string{m.Runsc, "--platform=" + m.Platform, "do"}, argv...)
}

// Launch is what one run of a command left behind.
type Launch struct {
	Stdout []byte
	// Wall is the time from the fork of the command until it was reaped,
	// as the launcher measured it (or the harness, without one).
	Wall time.Duration
	// MaxRSSKB is ru_maxrss, in KiB, from the rusage wait4 returned for
	// the command. Linux reports there the largest peak RSS of the process
	// itself and of every descendant that was reaped before it exited: the
	// maximum of any single process in the tree, not their sum. Natively
	// that is the workload (its forked children are smaller); under runsc
	// it is the largest process of the sandbox that runsc reaps.
	//
	// Without the spawn launcher the harness reaps the command itself, and
	// the number is at least the harness's own RSS: exec carries the
	// replaced address space's high-water mark into ru_maxrss, and Go
	// starts children sharing its address space (vfork).
	MaxRSSKB int64
}

// RunError is a failed launch, carrying the first line of what the process
// said so a table footnote can show why.
type RunError struct {
	Argv []string
	// First is the first non-blank line of stderr, or of stdout when stderr
	// is empty, or the error itself when the process said nothing.
	First string
	Err   error
}

func (e *RunError) Error() string { return e.First }

func (e *RunError) Unwrap() error { return e.Err }

// Run launches argv in mode m and waits for it, killing its whole process
// group when ctx ends or m.Timeout passes. A non-zero exit status is a
// *RunError.
func (m Mode) Run(ctx context.Context, argv []string) (Launch, error) {
	if m.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.Timeout)
		defer cancel()
	}
	full := m.Argv(argv)
	if m.Spawn != "" {
		full = append([]string{m.Spawn}, full...)
	}
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	// A group of its own, so that a timeout also ends what the command
	// started (the workload under the launcher, the sandbox under runsc).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A descendant that outlives the command and keeps its output open
	// must not hang the harness.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	var report *os.File
	if m.Spawn != "" {
		r, w, err := os.Pipe()
		if err != nil {
			return Launch{}, err
		}
		defer r.Close()
		report = r
		cmd.ExtraFiles = []*os.File{w} // the launcher's fd 3
		defer w.Close()
	}
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		if len(cmd.ExtraFiles) > 0 {
			// Only the launcher may hold the write end, so that reading
			// the report ends at its exit.
			cmd.ExtraFiles[0].Close()
		}
		err = cmd.Wait()
	}
	l := Launch{Stdout: stdout.Bytes(), Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			l.MaxRSSKB = int64(ru.Maxrss)
		}
	}
	if report != nil && cmd.ProcessState != nil {
		// The launcher's report replaces the harness's own view; it is
		// missing only when the launcher itself failed, which err shows.
		b, _ := io.ReadAll(report)
		if rep, perr := ParseSpawnReport(string(b)); perr == nil {
			l.Wall, l.MaxRSSKB = rep.Wall, rep.MaxRSSKB
		} else if err == nil {
			err = fmt.Errorf("spawn launcher: %v", perr)
		}
	}
	if err == nil {
		return l, nil
	}
	first := FirstLine(stderr.String())
	if first == "" {
		first = FirstLine(stdout.String())
	}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		first = fmt.Sprintf("%v (%v)", ctx.Err(), err)
	case first == "":
		first = err.Error()
	case errors.As(err, &exitErr):
		first = fmt.Sprintf("%s (%v)", first, err)
	}
	return l, &RunError{Argv: full, First: first, Err: err}
}
