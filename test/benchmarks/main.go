// Command benchmarks runs small C workloads natively and under `runsc do`
// on each platform, and prints one side-by-side table of the two with the
// sandbox/native ratio and the project's target for each.
//
// It never fails on a slow number: targets are printed for information. A
// sandbox run that fails shows n/a with a footnote; only a workload that
// fails natively (a broken benchmark) makes it exit non-zero. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"appkernel.dev/appkernel/test/benchmarks/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, workloadSources())
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	runsc     string
	platforms []string
	only      *regexp.Regexp
	count     int
	benchtime time.Duration
	jsonFile  string
	timeout   time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fset := flag.NewFlagSet("benchmarks", flag.ContinueOnError)
	fset.SetOutput(stderr)
	runsc := fset.String("runsc", os.Getenv("RUNSC"), "runsc binary to run the sandbox columns with (default $RUNSC)")
	platforms := fset.String("platform", "systrap,ptrace", "comma-separated runsc platforms, one column each")
	only := fset.String("only", "", "run only workloads whose id matches this regular expression")
	count := fset.Int("count", 3, "measured runs per workload and mode; the table shows their median")
	benchtime := fset.Duration("benchtime", 750*time.Millisecond, "aimed duration of one measured run")
	jsonFile := fset.String("json", "", "also write the results as JSON to this file")
	timeout := fset.Duration("timeout", 2*time.Minute, "limit for any one launch of a workload")
	if err := fset.Parse(args); err != nil {
		return nil, err
	}
	if fset.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fset.Args())
	}
	o := &options{runsc: *runsc, count: *count, benchtime: *benchtime, jsonFile: *jsonFile, timeout: *timeout}
	re, err := regexp.Compile(*only)
	if err != nil {
		return nil, fmt.Errorf("-only: %v", err)
	}
	o.only = re
	for _, p := range strings.Split(*platforms, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.platforms = append(o.platforms, p)
		}
	}
	if o.count < 1 {
		return nil, errors.New("-count must be at least 1")
	}
	if o.benchtime <= 0 || o.timeout <= 0 {
		return nil, errors.New("-benchtime and -timeout must be positive")
	}
	return o, nil
}

// outcome is one workload measured in one mode.
type outcome struct {
	m   bench.Measurement
	err error
}

// run is the whole harness; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, srcs fs.FS) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "benchmarks:", err)
		}
		return 2
	}

	host := bench.ProbeHost()
	for _, l := range host.Lines() {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintf(stdout, "runs:   median of %d measured runs of about %v each per workload and mode\n", o.count, o.benchtime)

	var selected []*workload
	for i := range workloads {
		if o.only.MatchString(workloads[i].id) {
			selected = append(selected, &workloads[i])
		}
	}
	if len(selected) == 0 {
		fmt.Fprintf(stderr, "benchmarks: -only %q matches no workload\n", o.only)
		return 2
	}

	modes := []bench.Mode{bench.Native()}
	table := &bench.Table{}
	// sandboxSkip holds, per sandbox column, why it cannot run at all.
	sandboxSkip := map[string]string{}
	for _, p := range o.platforms {
		m := bench.Sandbox(o.runsc, p)
		table.Sandboxes = append(table.Sandboxes, m.Name)
		if why := checkRunsc(o.runsc); why != "" {
			sandboxSkip[m.Name] = why
		}
		modes = append(modes, m)
	}
	fmt.Fprintf(stdout, "runsc:  %s\n\n", describeRunsc(o.runsc))

	dir, err := os.MkdirTemp("", "appkernel-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "benchmarks:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	e := &env{scratch: filepath.Join(dir, "scratch"), benchtime: o.benchtime}
	if err := os.Mkdir(e.scratch, 0o755); err != nil {
		fmt.Fprintln(stderr, "benchmarks:", err)
		return 1
	}

	bins, buildErrs, err := buildAll(ctx, srcs, filepath.Join(dir, "build"), selected, e)
	// A workload that does not build with a working compiler is broken; a
	// machine without one, or without a server a script runs, only skips
	// them.
	broken := false
	for _, why := range buildErrs {
		broken = broken || !strings.HasPrefix(why, skippedPrefix)
	}
	if errors.Is(err, bench.ErrNoCompiler) {
		fmt.Fprintf(stderr, "benchmarks: skipping every workload: %v\n", err)
		broken = false
	} else if err != nil {
		fmt.Fprintln(stderr, "benchmarks:", err)
		return 1
	}
	if broken {
		for _, w := range selected {
			if why, ok := buildErrs[w.id]; ok {
				fmt.Fprintf(stderr, "%-16s %s\n", w.id, why)
			}
		}
	}

	results := map[string]map[string]outcome{} // workload id -> mode name
	for _, w := range selected {
		results[w.id] = map[string]outcome{}
		bin, ok := bins[w.id]
		if !ok {
			continue // skipped or failed to build; reported below
		}
		for _, m := range modes {
			if sandboxSkip[m.Name] != "" {
				continue
			}
			oc := measure(ctx, o, m.WithSpawn(e.spawn), w, bin, e)
			results[w.id][m.Name] = oc
			if oc.err != nil {
				fmt.Fprintf(stderr, "%-16s %-15s failed: %v\n", w.id, m.Name, oc.err)
				if m.IsNative() {
					broken = true
				}
				continue
			}
			fmt.Fprintf(stderr, "%-16s %-15s %s %s (%d samples, %d launches)\n", w.id, m.Name,
				bench.FormatValue(oc.m.MedianNs()/w.nsPerUnit), w.unit, len(oc.m.Samples), oc.m.Launches)
		}
	}

	// Cells: a time row and a peak-RSS row per workload.
	cell := func(w *workload, m bench.Mode, value func(bench.Measurement) float64) bench.Cell {
		if why := sandboxSkip[m.Name]; why != "" {
			return table.Missing(why)
		}
		if err, ok := buildErrs[w.id]; ok {
			return table.Missing(err)
		}
		oc, ok := results[w.id][m.Name]
		switch {
		case !ok:
			return table.Missing("not run")
		case oc.err != nil && m.IsNative():
			return table.Missing("native run failed (a broken benchmark): " + oc.err.Error())
		case oc.err != nil:
			return table.Missing(oc.err.Error())
		}
		return bench.Value(value(oc.m))
	}
	var rssRows []bench.Row
	for _, w := range selected {
		timeRow := bench.Row{Workload: w.title, Unit: w.unit, Target: w.target}
		rssRow := bench.Row{Workload: "peak RSS: " + w.title, Unit: "MiB", Target: rssTarget}
		timeOf := func(m bench.Measurement) float64 { return m.MedianNs() / w.nsPerUnit }
		rssOf := func(m bench.Measurement) float64 { return float64(m.MaxRSSKB) / 1024 }
		timeRow.Native, rssRow.Native = cell(w, modes[0], timeOf), cell(w, modes[0], rssOf)
		for _, m := range modes[1:] {
			timeRow.Sandbox = append(timeRow.Sandbox, cell(w, m, timeOf))
			rssRow.Sandbox = append(rssRow.Sandbox, cell(w, m, rssOf))
		}
		table.Rows = append(table.Rows, timeRow)
		rssRows = append(rssRows, rssRow)
	}
	table.Rows = append(table.Rows, rssRows...)
	if err := table.Render(stdout); err != nil {
		fmt.Fprintln(stderr, "benchmarks:", err)
		return 1
	}
	fmt.Fprintln(stdout, "\nratio = runsc / native (how many times slower or larger); targets are goals for the sandbox, shown for information, never asserted.")
	fmt.Fprintln(stdout, "runsc do true: natively the fork+exec+wait of the same static true binary.")
	fmt.Fprintln(stdout, "a rate target (requests/s >= 60% of native, throughput >= 50%) is a time ratio <= 1.67 (<= 2); rate = 1e6 / (us per operation).")
	fmt.Fprintln(stdout, "peak RSS = ru_maxrss that wait4 returns for the command: natively the workload, in the sandbox the largest single process runsc reaped.")

	if o.jsonFile != "" {
		if err := writeJSON(o, host, selected, modes, results, buildErrs, sandboxSkip); err != nil {
			fmt.Fprintln(stderr, "benchmarks:", err)
			return 1
		}
	}
	if ctx.Err() != nil {
		return 1
	}
	if broken {
		fmt.Fprintln(stderr, "benchmarks: a workload failed natively: the benchmark itself is broken")
		return 1
	}
	return 0
}

// checkRunsc says why the sandbox columns cannot run, or "" when they can.
func checkRunsc(path string) string {
	if path == "" {
		return "no runsc: pass -runsc PATH or set $RUNSC"
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Sprintf("runsc %s: %v", path, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Sprintf("runsc %s: not an executable file", path)
	}
	return ""
}

func describeRunsc(path string) string {
	if path == "" {
		return "none given"
	}
	return path
}

// buildAll builds every selected workload, the true program and the
// launcher. A missing
// compiler is returned as an error wrapping bench.ErrNoCompiler, with every
// workload in the returned per-workload errors; a workload that fails to
// build is only in those errors, so the others still run.
func buildAll(ctx context.Context, srcs fs.FS, dir string, selected []*workload, e *env) (map[string]string, map[string]string, error) {
	bins := map[string]string{}
	errs := map[string]string{}
	b, err := bench.NewBuilder(ctx, srcs, dir)
	if err != nil {
		if errors.Is(err, bench.ErrNoCompiler) {
			for _, w := range selected {
				errs[w.id] = skippedPrefix + err.Error()
			}
		}
		return bins, errs, err
	}
	// Every measured command starts through the launcher (see spawn.c).
	if e.spawn, err = b.Build(ctx, spawnProgram); err != nil {
		for _, w := range selected {
			errs[w.id] = "build failed: " + bench.FirstLine(err.Error())
		}
		return bins, errs, nil
	}
	trueErr := ""
	for _, w := range selected {
		if w.needsTrue && e.trueBin == "" && trueErr == "" {
			if e.trueBin, err = b.Build(ctx, trueProgram); err != nil {
				trueErr = "build failed: " + bench.FirstLine(err.Error())
			}
		}
	}
	for _, w := range selected {
		if w.needsTrue && trueErr != "" {
			errs[w.id] = trueErr
			continue
		}
		if w.launch {
			bins[w.id] = e.trueBin
			continue
		}
		if w.script {
			if p := w.missing(); p != "" {
				errs[w.id] = skippedPrefix + p + " is not installed (tools/install-deps.sh installs it)"
				continue
			}
			bins[w.id] = b.Source(w.id + ".sh")
			continue
		}
		bin, err := b.Build(ctx, w.id)
		if err != nil {
			errs[w.id] = "build failed: " + bench.FirstLine(err.Error())
			continue
		}
		bins[w.id] = bin
	}
	return bins, errs, nil
}

// skippedPrefix starts the note of a workload this machine cannot run
// (no compiler, a server not installed): skipped, not broken.
const skippedPrefix = "skipped: "

// measure runs one workload in one mode.
func measure(ctx context.Context, o *options, m bench.Mode, w *workload, bin string, e *env) outcome {
	m.Timeout = o.timeout
	if w.launch {
		// At least 5 launches for a median worth the name, at most 200
		// per repetition so a fast native exec does not run for long.
		ms, err := bench.MeasureLaunch(ctx, m, []string{bin}, o.benchtime, 5, 200, o.count)
		return outcome{ms, err}
	}
	if w.script {
		ms, err := bench.MeasureRuns(ctx, m, w.id, append([]string{"/bin/sh", bin}, w.args(e)...), o.count)
		return outcome{ms, err}
	}
	argv := func(n int64) []string {
		return append([]string{bin, fmt.Sprint(n)}, w.args(e)...)
	}
	a := bench.Adapt{Target: o.benchtime, MaxIterations: 1e9}
	ms, err := bench.MeasureLoop(ctx, m, w.id, argv, a, o.count)
	return outcome{ms, err}
}
