package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"appkernel.dev/appkernel/test/benchmarks/internal/bench"
)

// needGCC skips tests that build workloads where there is no compiler.
func needGCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: workloads cannot be built here")
	}
}

// TestWorkloadsRunNatively builds every workload and runs it once through
// the launcher with a tiny iteration count, checking that it does its
// work and reports it.
func TestWorkloadsRunNatively(t *testing.T) {
	needGCC(t)
	ctx := context.Background()
	dir := t.TempDir()
	b, err := bench.NewBuilder(ctx, workloadSources(), dir)
	if errors.Is(err, bench.ErrNoCompiler) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	e := &env{scratch: t.TempDir(), benchtime: time.Millisecond}
	if e.spawn, err = b.Build(ctx, spawnProgram); err != nil {
		t.Fatal(err)
	}
	if e.trueBin, err = b.Build(ctx, trueProgram); err != nil {
		t.Fatal(err)
	}
	native := bench.Native().WithSpawn(e.spawn)
	for _, w := range workloads {
		if w.launch {
			l, err := native.Run(ctx, []string{e.trueBin})
			if err != nil || l.MaxRSSKB <= 0 || l.Wall <= 0 {
				t.Errorf("%s: launch = %+v, %v", w.id, l, err)
			}
			continue
		}
		if w.script {
			if p := w.missing(); p != "" {
				t.Logf("%s: skipped, %s not installed", w.id, p)
				continue
			}
			// The smallest run: wrk for 1 s, 1000 redis requests.
			l, err := native.Run(ctx, append([]string{"/bin/sh", b.Source(w.id + ".sh")}, w.args(e)...))
			if err != nil {
				t.Errorf("%s: %v", w.id, err)
				continue
			}
			if r, err := bench.FindResult(l.Stdout, w.id); err != nil || r.Iterations < 1 || r.TotalNs <= 0 {
				t.Errorf("%s: result %+v, %v", w.id, r, err)
			}
			if _, err := native.Run(ctx, []string{"/bin/sh", b.Source(w.id + ".sh"), "1"}); err == nil {
				t.Errorf("%s with a missing argument succeeded", w.id)
			}
			continue
		}
		bin, err := b.Build(ctx, w.id)
		if err != nil {
			t.Errorf("%s: %v", w.id, err)
			continue
		}
		const n = 3
		l, err := native.Run(ctx, append([]string{bin, "3"}, w.args(e)...))
		if err != nil {
			t.Errorf("%s: %v", w.id, err)
			continue
		}
		r, err := bench.FindResult(l.Stdout, w.id)
		if err != nil {
			t.Errorf("%s: %v", w.id, err)
			continue
		}
		if r.Iterations != n || r.TotalNs <= 0 || r.SelfMaxRSSKB <= 0 || l.MaxRSSKB <= 0 {
			t.Errorf("%s: result %+v, launch max RSS %d KiB", w.id, r, l.MaxRSSKB)
		}
		// The launcher keeps the harness's own RSS out of the number; a
		// static C workload is far below the harness's Go heap.
		if l.MaxRSSKB > 4096 {
			t.Errorf("%s: peak RSS %d KiB: the launcher did not isolate it", w.id, l.MaxRSSKB)
		}
		// A bad argument must fail loudly, not report a number.
		if _, err := native.Run(ctx, []string{bin, "0"}); err == nil {
			t.Errorf("%s with 0 iterations succeeded", w.id)
		}
	}
	if _, err := native.Run(ctx, []string{filepath.Join(dir, "no-such-binary")}); err == nil || !strings.Contains(err.Error(), "spawn: exec") {
		t.Errorf("launching a missing binary: err = %v", err)
	}
}

// writeScript writes an executable shell script standing in for runsc.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runsc")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runHarness(t *testing.T, srcs fs.FS, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, srcs)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	return code, out.String()
}

// tableRows returns the table's data rows, split into trimmed cells.
func tableRows(out string) map[string][]string {
	rows := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "| ") || strings.HasPrefix(l, "| workload") || strings.HasPrefix(l, "| ---") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(l, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows[cells[0]] = cells
	}
	return rows
}

// TestHarnessSandboxColumns runs the whole harness with a runsc stand-in
// that runs the command unsandboxed, the way a working `runsc do` will
// run it: every sandbox cell must then hold a number and a ratio, with no
// change to the harness.
func TestHarnessSandboxColumns(t *testing.T) {
	needGCC(t)
	log := filepath.Join(t.TempDir(), "calls")
	runsc := writeScript(t, `echo "$1 $2" >> `+log+`
while [ $# -gt 0 ] && [ "$1" != do ]; do shift; done
shift
exec "$@"
`)
	jsonFile := filepath.Join(t.TempDir(), "out.json")
	// Every workload this machine can run: scripts need their servers.
	var ids []string
	for _, w := range workloads {
		if w.missing() == "" {
			ids = append(ids, w.id)
		}
	}
	only := "^(" + strings.Join(ids, "|") + ")$"
	code, out := runHarness(t, workloadSources(), "-runsc", runsc, "-platform", "systrap", "-count", "2", "-benchtime", "5ms", "-json", jsonFile, "-only", only)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, fact := range []string{"cpu:", "cores:", "kernel:", "go:     go", "note:"} {
		if !strings.Contains(out, fact) {
			t.Errorf("output lacks host fact %q", fact)
		}
	}
	rows := tableRows(out)
	if len(rows) != 2*len(ids) {
		t.Fatalf("%d table rows, want %d (a time and an RSS row per workload)", len(rows), 2*len(ids))
	}
	for name, cells := range rows {
		// workload | unit | native | runsc(systrap) | ratio | target
		if len(cells) != 6 {
			t.Errorf("%s: cells %q", name, cells)
			continue
		}
		if strings.Contains(strings.Join(cells[2:5], " "), "n/a") || !strings.HasSuffix(cells[4], "x") {
			t.Errorf("%s: want native, sandbox and ratio values: %q", name, cells)
		}
	}
	calls, err := os.ReadFile(log)
	if err != nil || !strings.Contains(string(calls), "--platform=systrap do") {
		t.Errorf("runsc was not called as `runsc --platform=systrap do ...`: %q, %v", calls, err)
	}

	var rep jsonReport
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2*len(ids) {
		t.Fatalf("%d JSON results, want %d", len(rep.Results), 2*len(ids))
	}
	for _, r := range rep.Results {
		if r.Error != "" || r.Median == nil || len(r.Samples) < 2 || r.MaxRSSKB <= 0 {
			t.Errorf("JSON result %+v", r)
		}
		if r.Mode != "native" && r.Ratio == nil {
			t.Errorf("JSON result %s/%s has no ratio", r.Workload, r.Mode)
		}
	}
}

// TestHarnessSandboxFailure checks that failing sandbox runs are n/a with
// the first line of their error in a footnote, and still exit 0.
func TestHarnessSandboxFailure(t *testing.T) {
	needGCC(t)
	runsc := writeScript(t, "echo 'runsc: do: not implemented yet' >&2\necho 'second line' >&2\nexit 1\n")
	code, out := runHarness(t, workloadSources(), "-runsc", runsc, "-only", "^getpid$", "-count", "1", "-benchtime", "5ms")
	if code != 0 {
		t.Fatalf("exit %d; a failing sandbox must not fail the harness", code)
	}
	rows := tableRows(out)
	for _, name := range []string{"getpid", "peak RSS: getpid"} {
		cells := rows[name]
		// workload | unit | native | systrap | ratio | ptrace | ratio | target
		if len(cells) != 8 || cells[3] != "n/a [1]" || cells[4] != "n/a" || cells[5] != "n/a [1]" || strings.Contains(cells[2], "n/a") {
			t.Errorf("%s: cells %q", name, cells)
		}
	}
	if !strings.Contains(out, "\n[1] runsc: do: not implemented yet (exit status 1)\n") || strings.Contains(out, "second line") {
		t.Errorf("footnote missing or not the first line of the error")
	}

	code, out = runHarness(t, workloadSources(), "-runsc", "", "-only", "^getpid$", "-count", "1", "-benchtime", "5ms")
	if code != 0 || !strings.Contains(out, "[1] no runsc: pass -runsc PATH or set $RUNSC") {
		t.Errorf("without runsc: exit %d, want 0 and a footnote saying so", code)
	}
}

// TestHarnessBrokenWorkload checks that a workload failing natively makes
// the harness exit 1, after printing the table.
func TestHarnessBrokenWorkload(t *testing.T) {
	needGCC(t)
	srcs := fstest.MapFS{}
	err := fs.WalkDir(workloadSources(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(workloadSources(), p)
		srcs[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	srcs["getpid.c"] = &fstest.MapFile{Data: []byte("#include <stdio.h>\nint main(void) { fputs(\"getpid: broken\\n\", stderr); return 3; }\n"), Mode: 0o644}
	code, out := runHarness(t, srcs, "-runsc", "", "-only", "^getpid$", "-count", "1", "-benchtime", "5ms")
	if code != 1 {
		t.Errorf("exit %d, want 1 for a natively failing workload", code)
	}
	if !strings.Contains(out, "native run failed (a broken benchmark): getpid: broken (exit status 3)") {
		t.Errorf("the table does not explain the native failure")
	}

	srcs["getpid.c"] = &fstest.MapFile{Data: []byte("this is not C\n"), Mode: 0o644}
	if code, out := runHarness(t, srcs, "-runsc", "", "-only", "^getpid$", "-count", "1"); code != 1 || !strings.Contains(out, "build failed") {
		t.Errorf("a workload that does not compile: exit %d, want 1 and a build-failed note", code)
	}
}

// TestHarnessWithoutCompiler checks that a machine without gcc skips every
// workload with a message and exits 0.
func TestHarnessWithoutCompiler(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, out := runHarness(t, workloadSources(), "-runsc", "", "-only", "getpid")
	if code != 0 || !strings.Contains(out, "skipped: no C compiler") {
		t.Errorf("exit %d, want 0 and a skip note", code)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-count", "0"}, {"-only", "("}, {"-benchtime", "0s"}, {"extra"}, {"-only", "^nothing$"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut, workloadSources()); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (usage)", args, code)
		}
	}
	o, err := parseFlags([]string{"-platform", " systrap, ,ptrace ", "-runsc", "/x/runsc"}, &bytes.Buffer{})
	if err != nil || strings.Join(o.platforms, "|") != "systrap|ptrace" || o.runsc != "/x/runsc" {
		t.Errorf("parseFlags = %+v, %v", o, err)
	}
}
