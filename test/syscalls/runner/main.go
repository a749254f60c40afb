// Command runner builds the syscall tests, runs each natively and, for
// those listed in supported.txt, under runsc, then prints a result table.
//
//	go run ./test/syscalls/runner [-runsc PATH] [-run REGEXP] [-v]
//
// It exits 1 if any run failed, and 0 with a message on stderr when no
// static C toolchain is available.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"appkernel.dev/appkernel/test/syscalls"
)

func main() {
	dir := flag.String("dir", syscalls.SourceDir(), "directory holding linux/ and supported.txt")
	supportedPath := flag.String("supported", "", "supported list (default DIR/supported.txt)")
	runsc := flag.String("runsc", os.Getenv("RUNSC"), "path to runsc (default $RUNSC); sandbox runs are skipped when empty")
	platforms := flag.String("platforms", strings.Join(syscalls.Platforms, ","), "comma-separated runsc platforms to run")
	timeout := flag.Duration("timeout", syscalls.DefaultTimeout, "limit for one run of one test binary")
	buildDir := flag.String("build-dir", "", "keep binaries here (default: a temporary dir, removed afterwards)")
	filter := flag.String("run", "", "only run tests whose name matches this regexp")
	verbose := flag.Bool("v", false, "print the output of passing runs too")
	flag.Parse()
	os.Exit(run(*dir, *supportedPath, *runsc, *platforms, *buildDir, *filter, *verbose, *timeout))
}

func run(dir, supportedPath, runsc, platforms, buildDir, filter string, verbose bool, timeout time.Duration) int {
	ctx := context.Background()
	tests, err := syscalls.FindTests(dir)
	if err != nil {
		return fatal(err)
	}
	if supportedPath == "" {
		supportedPath = syscalls.SupportedFile(dir)
	}
	supported, err := syscalls.LoadSupported(supportedPath, tests)
	if err != nil {
		return fatal(err)
	}
	if filter != "" {
		re, err := regexp.Compile(filter)
		if err != nil {
			return fatal(err)
		}
		var kept []syscalls.Test
		for _, t := range tests {
			if re.MatchString(t.Name) {
				kept = append(kept, t)
			}
		}
		tests = kept
	}
	wanted := map[string]bool{}
	for _, p := range strings.Split(platforms, ",") {
		wanted[strings.TrimSpace(p)] = true
	}
	if buildDir == "" {
		tmp, err := os.MkdirTemp("", "syscall-tests-")
		if err != nil {
			return fatal(err)
		}
		defer os.RemoveAll(tmp)
		buildDir = tmp
	} else if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return fatal(err)
	}
	if err := syscalls.CheckToolchain(ctx, buildDir); err != nil {
		if errors.Is(err, syscalls.ErrNoToolchain) {
			fmt.Fprintf(os.Stderr, "SKIP: syscall tests not run: %v\n", err)
			return 0
		}
		return fatal(err)
	}
	bins, buildErrs := syscalls.BuildAll(ctx, tests, buildDir)

	failed := 0
	var rows []syscalls.Row
	for _, t := range tests {
		row := syscalls.Row{Name: t.Name, Native: syscalls.Fail, Runsc: map[string]syscalls.Status{}}
		if err := buildErrs[t.Name]; err != nil {
			fmt.Printf("FAIL %s (build)\n%v\n", t.Name, err)
			failed++
			rows = append(rows, row)
			continue
		}
		native := syscalls.Run(ctx, syscalls.Command("", "", "", bins[t.Name]), timeout)
		failed += show(t.Name+" native", native, verbose)
		// One row per network mode (supported.txt's net= tokens).
		for _, n := range supported.RunNetworks(t.Name) {
			row := syscalls.Row{Name: syscalls.RowName(t.Name, n), Native: native.Status, Runsc: map[string]syscalls.Status{}}
			for _, p := range syscalls.Platforms {
				if !wanted[p] || !supported.Has(t.Name, p) {
					continue
				}
				what := fmt.Sprintf("%s runsc(%s)", t.Name, p)
				if n != "" {
					what = fmt.Sprintf("%s runsc(%s, --network=%s)", t.Name, p, n)
				}
				if runsc == "" {
					row.Runsc[p] = syscalls.Skipped
					fmt.Printf("SKIP %s: listed in supported.txt but RUNSC is not set\n", what)
					continue
				}
				r := syscalls.CompareToNative(native, syscalls.Run(ctx, syscalls.Command(runsc, p, n, bins[t.Name]), timeout))
				row.Runsc[p] = r.Status
				failed += show(what, r, verbose)
			}
			rows = append(rows, row)
		}
	}
	fmt.Print("\n", syscalls.FormatTable(rows))
	if failed > 0 {
		fmt.Printf("\n%d run(s) failed\n", failed)
		return 1
	}
	return 0
}

// show prints one run's outcome and returns 1 if it failed.
func show(what string, r syscalls.Result, verbose bool) int {
	if r.Status == syscalls.Pass {
		fmt.Printf("PASS %s (%v)\n", what, r.Duration.Round(1e6))
		if verbose {
			fmt.Print(indent(r.Output))
		}
		return 0
	}
	fmt.Printf("FAIL %s (%v): %s\n%s", what, r.Duration.Round(1e6), r.Reason, indent(r.Output))
	return 1
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

func fatal(err error) int {
	fmt.Fprintln(os.Stderr, "runner:", err)
	return 2
}
