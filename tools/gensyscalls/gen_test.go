package main

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sampleSpec = `arch_prctl 158   -     -       notimpl
kexec_load 246   104   -       unsupported:EPERM refused
read       0     63    Read    partial  no O_DIRECT | yet
write      1     64    Write   full
`

func parseSample(t *testing.T) *Spec {
	t.Helper()
	spec, err := ParseSpec(strings.NewReader(sampleSpec), "sample.spec")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestGenerateTable(t *testing.T) {
	spec := parseSample(t)
	src, err := generateTable(spec, "amd64", "x/sample.spec")
	if err != nil {
		t.Fatal(err)
	}
	got := string(src)
	if !strings.HasPrefix(got, generatedHeader+"\n") {
		t.Errorf("output does not start with %q:\n%s", generatedHeader, got)
	}
	// Ordered by number, handlers referenced by name, errno spelled out
	// only when it is not the ENOSYS default.
	wantInOrder := []string{
		"//go:build amd64\n",
		`0:   {Name: "read", Fn: Read, Support: kernel.SupportPartial, Note: "no O_DIRECT | yet"},`,
		`1:   {Name: "write", Fn: Write, Support: kernel.SupportFull},`,
		`158: {Name: "arch_prctl", Support: kernel.SupportNotImplemented},`,
		`246: {Name: "kexec_load", Support: kernel.SupportUnsupported, Errno: 1 /* EPERM */, Note: "refused"},`,
	}
	rest := got
	for _, w := range wantInOrder {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("generated table lacks %q after the previous lines:\n%s", w, got)
		}
		rest = rest[i+len(w):]
	}

	arm, err := generateTable(spec, "arm64", "x/sample.spec")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(arm), "arch_prctl") {
		t.Errorf("arm64 table contains amd64-only arch_prctl:\n%s", arm)
	}
}

func TestGenerateDocs(t *testing.T) {
	got := string(generateDocs(parseSample(t), "x/sample.spec"))
	for _, w := range []string{
		"generated from `x/sample.spec`",
		"do not edit it by hand",
		"| full | 1 | 1 |",
		"| partial | 1 | 1 |",
		"| unsupported | 1 | 1 |",
		"| notimpl | 1 | 0 |",
		"| total | 4 | 3 |",
		"| `arch_prctl` | 158 | - | notimpl | |",
		"| `kexec_load` | 246 | 104 | unsupported (EPERM) | refused |",
		"| `read` | 0 | 63 | partial | no O_DIRECT \\| yet |",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("docs lack %q:\n%s", w, got)
		}
	}
	if strings.Index(got, "`arch_prctl`") > strings.Index(got, "`write`") {
		t.Errorf("docs are not sorted by name:\n%s", got)
	}
}

// TestGeneratedFilesUpToDate regenerates from the checked-in spec and
// compares with the checked-in outputs, so a spec edit without go generate,
// or a hand edit of a generated file, fails here rather than in review.
func TestGeneratedFilesUpToDate(t *testing.T) {
	const pkgDir = "../../pkg/sentry/syscalls/linux"
	const docs = "../../docs/compatibility.md"
	tmp := t.TempDir()
	tmpDocs := filepath.Join(tmp, "compatibility.md")
	var stderr bytes.Buffer
	if err := run([]string{"-spec", filepath.Join(pkgDir, "syscalls.spec"), "-out", tmp, "-docs", tmpDocs}, &stderr); err != nil {
		t.Fatalf("gensyscalls: %v\n%s", err, stderr.String())
	}
	pairs := map[string]string{docs: tmpDocs}
	for _, arch := range arches {
		pairs[filepath.Join(pkgDir, tableFileName(arch))] = filepath.Join(tmp, tableFileName(arch))
	}
	for _, checkedIn := range slices.Sorted(maps.Keys(pairs)) {
		fresh := pairs[checkedIn]
		want, err := os.ReadFile(fresh)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(checkedIn)
		if err != nil {
			t.Errorf("%v; run go generate ./pkg/sentry/syscalls/linux/", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date; run go generate ./pkg/sentry/syscalls/linux/", checkedIn)
		}
	}
}
