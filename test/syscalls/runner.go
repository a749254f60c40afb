// Package syscalls builds and runs the differential syscall tests in linux/:
// every C program runs natively, and those listed in supported.txt also run
// under runsc, where they must behave exactly as they do natively.
//
// The package is used by syscalls_test.go (go test) and by the runner
// command (go run ./test/syscalls/runner); both share everything here.
package syscalls

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Platforms are the runsc platforms a test can be listed for, in table order.
var Platforms = []string{"systrap", "ptrace"}

// DefaultTimeout bounds one run of one test binary. Tests take well under
// two seconds natively; the margin is for slow sandbox platforms.
const DefaultTimeout = 30 * time.Second

// CFlags are the compiler flags every test is built with. Static linking
// lets a binary run in any rootfs, including an empty sandbox root.
var CFlags = []string{"-static", "-O1", "-Wall", "-Werror", "-pthread"}

// SourceDir returns the directory holding this package's sources, so the
// runner works from any working directory.
func SourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Dir(file)
}

// Test is one C test program.
type Test struct {
	Name string // file name without .c, e.g. "read_write"
	Src  string // path to the .c file
}

// FindTests lists linux/*.c under dir, sorted by name.
func FindTests(dir string) ([]Test, error) {
	files, err := filepath.Glob(filepath.Join(dir, "linux", "*.c"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no tests found in %s", filepath.Join(dir, "linux"))
	}
	sort.Strings(files)
	tests := make([]Test, 0, len(files))
	for _, f := range files {
		tests = append(tests, Test{Name: strings.TrimSuffix(filepath.Base(f), ".c"), Src: f})
	}
	return tests, nil
}

// Networks are the runsc network modes a test can be listed for, as
// `net=MODE` tokens in supported.txt.
var Networks = []string{"host", "none", "sandbox"}

// Entry is one supported.txt line: where a test runs under runsc.
type Entry struct {
	// Platforms are the runsc platforms (all when the line names none).
	Platforms []string
	// Networks are the --network modes to run it in, once each per
	// platform; empty means once, in runsc's default mode, without a
	// --network flag.
	Networks []string
}

// Supported maps a test name to where it is expected to pass under runsc.
type Supported map[string]Entry

// Has reports whether name is listed for platform.
func (s Supported) Has(name, platform string) bool {
	return slices.Contains(s[name].Platforms, platform)
}

// RunNetworks returns the network modes name runs in under runsc: its
// net= tokens, or a single "" (runsc's default mode, no flag).
func (s Supported) RunNetworks(name string) []string {
	if n := s[name].Networks; len(n) > 0 {
		return n
	}
	return []string{""}
}

// ParseSupported reads the supported.txt format: one test name per line,
// optionally followed by the platforms it passes on (all platforms when
// none are given) and by net=MODE tokens (host, none, sandbox) naming
// the network modes to run it in; '#' starts a comment. Unknown
// platforms or modes and duplicate names or tokens are errors, because a
// typo there would silently drop coverage.
func ParseSupported(r io.Reader) (Supported, error) {
	s := Supported{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		name := fields[0]
		if _, dup := s[name]; dup {
			return nil, fmt.Errorf("line %d: %q listed twice", line, name)
		}
		var e Entry
		for _, tok := range fields[1:] {
			if mode, ok := strings.CutPrefix(tok, "net="); ok {
				if !slices.Contains(Networks, mode) {
					return nil, fmt.Errorf("line %d: unknown network %q (want net= one of %s)", line, mode, strings.Join(Networks, ", "))
				}
				if slices.Contains(e.Networks, mode) {
					return nil, fmt.Errorf("line %d: net=%s given twice", line, mode)
				}
				e.Networks = append(e.Networks, mode)
				continue
			}
			if !knownPlatform(tok) {
				return nil, fmt.Errorf("line %d: unknown platform %q (want one of %s, or net=MODE)", line, tok, strings.Join(Platforms, ", "))
			}
			if slices.Contains(e.Platforms, tok) {
				return nil, fmt.Errorf("line %d: platform %s given twice", line, tok)
			}
			e.Platforms = append(e.Platforms, tok)
		}
		if len(e.Platforms) == 0 {
			e.Platforms = append([]string(nil), Platforms...)
		}
		s[name] = e
	}
	return s, sc.Err()
}

func knownPlatform(p string) bool { return slices.Contains(Platforms, p) }

// SupportedFile is the checked-in list under a source dir.
func SupportedFile(dir string) string { return filepath.Join(dir, "supported.txt") }

// LoadSupported reads a supported list and checks that every listed test
// exists, so a renamed test cannot silently leave the sandbox run.
func LoadSupported(path string, tests []Test) (Supported, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := ParseSupported(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	known := map[string]bool{}
	for _, t := range tests {
		known[t.Name] = true
	}
	for name := range s {
		if !known[name] {
			return nil, fmt.Errorf("%s: %q has no linux/%s.c", path, name, name)
		}
	}
	return s, nil
}

// ErrNoToolchain means tests cannot be built here; callers skip, not fail.
var ErrNoToolchain = errors.New("no C toolchain for static binaries")

// CheckToolchain verifies that gcc exists and can link a static binary
// (Debian needs libc6-dev for libc.a).
func CheckToolchain(ctx context.Context, buildDir string) error {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return fmt.Errorf("%w: gcc not found in PATH", ErrNoToolchain)
	}
	src := filepath.Join(buildDir, "toolchain_check.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, gcc, "-static", "-o", filepath.Join(buildDir, "toolchain_check"), src).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: gcc -static failed (is the static libc, e.g. libc6-dev, installed?): %v\n%s", ErrNoToolchain, err, out)
	}
	return nil
}

// Build compiles one test into buildDir and returns the binary's absolute
// path. The path is absolute because tests that re-exec themselves find
// their binary through argv[0].
func Build(ctx context.Context, t Test, buildDir string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(buildDir, t.Name))
	if err != nil {
		return "", err
	}
	args := append(append([]string(nil), CFlags...), "-o", bin, t.Src)
	out, err := exec.CommandContext(ctx, "gcc", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// BuildAll compiles tests in parallel. The result maps a test name to its
// binary; build failures are returned per test so the rest still run.
func BuildAll(ctx context.Context, tests []Test, buildDir string) (map[string]string, map[string]error) {
	bins := map[string]string{}
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for _, t := range tests {
		wg.Add(1)
		go func(t Test) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			bin, err := Build(ctx, t, buildDir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[t.Name] = err
			} else {
				bins[t.Name] = bin
			}
		}(t)
	}
	wg.Wait()
	return bins, errs
}

// Status is one cell of the result table.
type Status string

const (
	Pass    Status = "PASS"
	Fail    Status = "FAIL"
	NotRun  Status = "-"
	Skipped Status = "SKIP"
)

// Result is the outcome of running one binary once.
type Result struct {
	Status   Status
	Reason   string // why it failed, empty on success
	Output   string // stdout and stderr, interleaved
	Passed   []string
	Duration time.Duration
}

// Command returns the argv that runs bin natively (platform "") or under
// runsc on the given platform, with --network=network unless network is
// "" (runsc's default mode).
func Command(runsc, platform, network, bin string) []string {
	if platform == "" {
		return []string{bin}
	}
	argv := []string{runsc, "--platform=" + platform}
	if network != "" {
		argv = append(argv, "--network="+network)
	}
	return append(argv, "do", bin)
}

// RowName is the table row of test name run in network mode (""
// for the default mode).
func RowName(name, network string) string {
	if network == "" {
		return name
	}
	return name + " net=" + network
}

// Run executes argv with a timeout. The process gets its own process group
// so that a hung test and every child it forked are killed together.
func Run(ctx context.Context, argv []string, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Orphaned grandchildren may hold the output pipe open; don't wait on them forever.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := Result{Output: out.String(), Duration: time.Since(start)}
	r.Passed = passLines(r.Output)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		r.Status, r.Reason = Fail, fmt.Sprintf("timed out after %v", timeout)
	case err != nil:
		r.Status, r.Reason = Fail, err.Error()
	case len(r.Passed) == 0:
		// Exit 0 with no sub-test output means the checks never ran.
		r.Status, r.Reason = Fail, "exited 0 but printed no PASS lines"
	default:
		r.Status = Pass
	}
	return r
}

func passLines(out string) []string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(l, "PASS "); ok {
			names = append(names, strings.TrimSpace(name))
		}
	}
	return names
}

// CompareToNative turns a sandbox PASS into FAIL when it did not run the
// same sub-tests as the native run: the sandbox must behave the same, not
// merely exit 0.
func CompareToNative(native, sandbox Result) Result {
	if native.Status != Pass || sandbox.Status != Pass {
		return sandbox
	}
	if strings.Join(native.Passed, ",") != strings.Join(sandbox.Passed, ",") {
		sandbox.Status = Fail
		sandbox.Reason = fmt.Sprintf("sub-tests differ from native: native %v, sandbox %v", native.Passed, sandbox.Passed)
	}
	return sandbox
}

// Row is one test's line in the table.
type Row struct {
	Name   string
	Native Status
	Runsc  map[string]Status // by platform
}

// FormatTable renders rows as an aligned text table.
func FormatTable(rows []Row) string {
	header := []string{"test", "native"}
	for _, p := range Platforms {
		header = append(header, "runsc("+p+")")
	}
	cells := [][]string{header}
	for _, r := range rows {
		line := []string{r.Name, string(r.Native)}
		for _, p := range Platforms {
			s, ok := r.Runsc[p]
			if !ok {
				s = NotRun
			}
			line = append(line, string(s))
		}
		cells = append(cells, line)
	}
	widths := make([]int, len(header))
	for _, line := range cells {
		for i, c := range line {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for n, line := range cells {
		for i, c := range line {
			if i > 0 {
				b.WriteString(" | ")
			}
			if i == len(line)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			}
		}
		b.WriteByte('\n')
		if n == 0 {
			for i, w := range widths {
				if i > 0 {
					b.WriteString("-+-")
				}
				b.WriteString(strings.Repeat("-", w))
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
