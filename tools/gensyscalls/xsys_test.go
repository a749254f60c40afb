package main

import (
	"bufio"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// This file checks the spec's numbers and the errno table against
// golang.org/x/sys/unix, an independent transcription of the kernel headers.
// x/sys only compiles one GOARCH's constants at a time, so the test parses
// its zsysnum_linux_<arch>.go and zerrors_linux_<arch>.go sources instead of
// importing them: both architectures are checked on any host.

const specPath = "../../pkg/sentry/syscalls/linux/syscalls.spec"

// notSyscalls are SYS_ constants in x/sys that do not name a system call.
var notSyscalls = map[string]string{
	// asm-generic marks the start of a range reserved for arch-private
	// calls with this; arm64 puts nothing there.
	"arch_specific_syscall": "range marker, not a syscall",
}

func TestSpecMatchesXSys(t *testing.T) {
	dir := xsysDir(t)
	f, err := os.Open(specPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec, err := ParseSpec(f, specPath)
	if err != nil {
		t.Fatal(err)
	}

	for _, arch := range arches {
		known := parseConsts(t, filepath.Join(dir, "unix", "zsysnum_linux_"+arch+".go"), "SYS_", false)
		maxKnown := 0
		for name, n := range known {
			if _, skip := notSyscalls[name]; skip {
				delete(known, name)
				continue
			}
			maxKnown = max(maxKnown, n)
		}

		inSpec := map[string]bool{}
		var newer []string
		for _, e := range spec.Entries {
			n := e.Num(arch)
			if n == absent {
				continue
			}
			inSpec[e.Name] = true
			want, ok := known[e.Name]
			switch {
			case ok && want != n:
				t.Errorf("%s:%d: %s is %d on %s, x/sys says %d", specPath, e.Line, e.Name, n, arch, want)
			case !ok && n <= maxKnown:
				t.Errorf("%s:%d: %s (%d on %s) is unknown to x/sys, which goes up to %d; wrong name or wrong arch?",
					specPath, e.Line, e.Name, n, arch, maxKnown)
			case !ok:
				newer = append(newer, e.Name+"="+strconv.Itoa(n))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(known)) {
			if n := known[name]; !inSpec[name] {
				t.Errorf("x/sys has %s=%d on %s, the spec does not", name, n, arch)
			}
		}
		t.Logf("%s: x/sys knows %d syscalls, numbered up to %d", arch, len(known), maxKnown)
		if len(newer) > 0 {
			t.Logf("%s: newer than x/sys, not cross-checked: %s", arch, strings.Join(newer, " "))
		}
	}
}

func TestErrnosMatchXSys(t *testing.T) {
	dir := xsysDir(t)
	for _, arch := range arches {
		// Errnos common to all Linux ports live in zerrors_linux.go, the
		// others in the per-arch file.
		known := parseConsts(t, filepath.Join(dir, "unix", "zerrors_linux.go"), "E", true)
		maps.Copy(known, parseConsts(t, filepath.Join(dir, "unix", "zerrors_linux_"+arch+".go"), "E", true))
		for _, name := range slices.Sorted(maps.Keys(errnos)) {
			n := errnos[name]
			want, ok := known[strings.ToLower(strings.TrimPrefix(name, "E"))]
			if !ok {
				t.Errorf("errno %s is not in x/sys for %s", name, arch)
			} else if want != n {
				t.Errorf("errno %s is %d here, %d in x/sys for %s", name, n, want, arch)
			}
		}
	}
}

// parseConsts returns the integer constants of a Go file whose names start
// with prefix, keyed by the rest of the name in lower case: plain literals
// (SYS_READ = 0), or, if conversion is set, only conversions (EPERM =
// syscall.Errno(0x1)), which keeps termios flags such as ECHO out of the
// errnos.
func parseConsts(t *testing.T, path, prefix string, conversion bool) map[string]int {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]int{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, ident := range vs.Names {
				rest, ok := strings.CutPrefix(ident.Name, prefix)
				if !ok || i >= len(vs.Values) || !isUpper(rest) {
					continue
				}
				value := vs.Values[i]
				if conversion {
					call, ok := value.(*ast.CallExpr)
					if !ok || len(call.Args) != 1 {
						continue
					}
					value = call.Args[0]
				}
				lit, ok := value.(*ast.BasicLit)
				if !ok || lit.Kind != token.INT {
					continue
				}
				n, err := strconv.ParseInt(lit.Value, 0, 64)
				if err != nil {
					t.Fatalf("%s: %s: %v", path, ident.Name, err)
				}
				consts[strings.ToLower(rest)] = int(n)
			}
		}
	}
	if len(consts) == 0 {
		t.Fatalf("%s: no %s constants found; has the file layout changed?", path, prefix)
	}
	return consts
}

func isUpper(s string) bool {
	return s != "" && strings.IndexFunc(s, unicode.IsLower) < 0
}

// xsysDir finds the golang.org/x/sys source this module requires: first by
// asking the go command, then by looking where the module cache keeps it.
// It skips the test only if the source is truly unavailable (e.g. an
// offline machine that never downloaded it).
func xsysDir(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); isXSys(dir) {
			return dir
		}
	}
	version, err := requiredVersion("../../go.mod", "golang.org/x/sys")
	if err != nil {
		t.Skipf("golang.org/x/sys source not found: go list failed and %v", err)
	}
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		caches = append(caches, filepath.Join(p, "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		if dir := filepath.Join(c, "golang.org", "x", "sys@"+version); isXSys(dir) {
			return dir
		}
	}
	t.Skipf("golang.org/x/sys@%s source not found in %v and `go list -m golang.org/x/sys` failed; run `go mod download golang.org/x/sys`", version, caches)
	return ""
}

func isXSys(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "unix", "zsysnum_linux_amd64.go"))
	return dir != "" && err == nil
}

// requiredVersion reads module's version from a go.mod require line.
func requiredVersion(gomod, module string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New(gomod + " does not require " + module)
}
