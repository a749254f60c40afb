package syscalls

import (
	"context"
	"errors"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
)

var (
	runscFlag     = flag.String("runsc", os.Getenv("RUNSC"), "path to runsc for sandbox runs of tests listed in supported.txt (default $RUNSC)")
	supportedFlag = flag.String("supported", "", "supported list to use instead of supported.txt")
	timeoutFlag   = flag.Duration("timeout-per-test", DefaultTimeout, "limit for one run of one test binary")
)

// TestSyscalls runs every linux/*.c natively, and under runsc on each
// platform supported.txt lists it for.
func TestSyscalls(t *testing.T) {
	ctx := context.Background()
	dir := SourceDir()
	tests, err := FindTests(dir)
	if err != nil {
		t.Fatal(err)
	}
	list := SupportedFile(dir)
	if *supportedFlag != "" {
		list = *supportedFlag
	}
	supported, err := LoadSupported(list, tests)
	if err != nil {
		t.Fatal(err)
	}
	buildDir := t.TempDir()
	if err := CheckToolchain(ctx, buildDir); err != nil {
		if errors.Is(err, ErrNoToolchain) {
			t.Skipf("skipping syscall tests: %v", err)
		}
		t.Fatal(err)
	}
	bins, buildErrs := BuildAll(ctx, tests, buildDir)

	var rows []Row
	for _, tc := range tests {
		// One row per network mode the test runs in; each repeats the
		// native result it is compared against.
		nets := supported.RunNetworks(tc.Name)
		netRows := make([]Row, len(nets))
		for i, n := range nets {
			netRows[i] = Row{Name: RowName(tc.Name, n), Native: NotRun, Runsc: map[string]Status{}}
		}
		ran := false
		t.Run(tc.Name, func(t *testing.T) {
			ran = true
			if err := buildErrs[tc.Name]; err != nil {
				for i := range netRows {
					netRows[i].Native = Fail
				}
				t.Fatalf("build failed: %v", err)
			}
			var native Result
			t.Run("native", func(t *testing.T) {
				native = Run(ctx, Command("", "", "", bins[tc.Name]), *timeoutFlag)
				for i := range netRows {
					netRows[i].Native = native.Status
				}
				report(t, native)
			})
			for i, n := range nets {
				row := &netRows[i]
				for _, p := range Platforms {
					if !supported.Has(tc.Name, p) {
						continue
					}
					sub := "runsc_" + p
					if n != "" {
						sub += "_net_" + n
					}
					t.Run(sub, func(t *testing.T) {
						if *runscFlag == "" {
							row.Runsc[p] = Skipped
							t.Skipf("%s is listed for %s in supported.txt, but RUNSC is not set (set RUNSC=/path/to/runsc or pass -args -runsc=PATH)", tc.Name, p)
						}
						r := CompareToNative(native, Run(ctx, Command(*runscFlag, p, n, bins[tc.Name]), *timeoutFlag))
						row.Runsc[p] = r.Status
						report(t, r)
					})
				}
			}
		})
		if ran { // -run may have filtered it out
			rows = append(rows, netRows...)
		}
	}
	t.Logf("results:\n%s", FormatTable(rows))
}

func report(t *testing.T, r Result) {
	t.Helper()
	if r.Status != Pass {
		t.Errorf("%s (%v)\n--- output ---\n%s", r.Reason, r.Duration.Round(1e6), r.Output)
	}
}

func TestParseSupported(t *testing.T) {
	in := `# header
getpid systrap ptrace
read_write            # all platforms
fork ptrace   # trailing comment
hostinet_tcp net=host
inet_udp systrap net=none net=sandbox

`
	s, err := ParseSupported(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, plat string
		want       bool
	}{
		{"getpid", "systrap", true},
		{"getpid", "ptrace", true},
		{"read_write", "systrap", true},
		{"read_write", "ptrace", true},
		{"fork", "ptrace", true},
		{"fork", "systrap", false},
		{"header", "systrap", false},
	} {
		if got := s.Has(c.name, c.plat); got != c.want {
			t.Errorf("Has(%q, %q) = %v, want %v", c.name, c.plat, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		want []string
	}{
		{"getpid", []string{""}},
		{"hostinet_tcp", []string{"host"}},
		{"inet_udp", []string{"none", "sandbox"}},
	} {
		if got := s.RunNetworks(c.name); !slices.Equal(got, c.want) {
			t.Errorf("RunNetworks(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	if !s.Has("hostinet_tcp", "ptrace") || !s.Has("inet_udp", "systrap") || s.Has("inet_udp", "ptrace") {
		t.Errorf("platforms of net= lines: %+v", s)
	}
	for _, bad := range []string{"getpid kvm\n", "a\na\n", "a net=bridge\n", "a net=host net=host\n", "a ptrace ptrace\n"} {
		if _, err := ParseSupported(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseSupported(%q) succeeded, want error", bad)
		}
	}
}

func TestSupportedListIsValid(t *testing.T) {
	dir := SourceDir()
	tests, err := FindTests(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSupported(SupportedFile(dir), tests); err != nil {
		t.Fatal(err)
	}
}

func TestCommand(t *testing.T) {
	for _, c := range []struct {
		platform, network string
		want              []string
	}{
		{"", "", []string{"/t/bin"}},
		{"ptrace", "", []string{"/r", "--platform=ptrace", "do", "/t/bin"}},
		{"systrap", "host", []string{"/r", "--platform=systrap", "--network=host", "do", "/t/bin"}},
	} {
		if got := Command("/r", c.platform, c.network, "/t/bin"); !slices.Equal(got, c.want) {
			t.Errorf("Command(%q, %q) = %q, want %q", c.platform, c.network, got, c.want)
		}
	}
}

func TestCompareToNative(t *testing.T) {
	native := Result{Status: Pass, Passed: []string{"a", "b"}}
	if r := CompareToNative(native, Result{Status: Pass, Passed: []string{"a", "b"}}); r.Status != Pass {
		t.Errorf("same sub-tests: got %s (%s)", r.Status, r.Reason)
	}
	if r := CompareToNative(native, Result{Status: Pass, Passed: []string{"a"}}); r.Status != Fail {
		t.Errorf("missing sub-test: got %s, want FAIL", r.Status)
	}
}

func TestFormatTable(t *testing.T) {
	got := FormatTable([]Row{
		{Name: "getpid", Native: Pass, Runsc: map[string]Status{"systrap": Pass}},
		{Name: "read_write", Native: Fail, Runsc: map[string]Status{}},
	})
	want := `test       | native | runsc(systrap) | runsc(ptrace)
-----------+--------+----------------+--------------
getpid     | PASS   | PASS           | -
read_write | FAIL   | -              | -
`
	if got != want {
		t.Errorf("FormatTable:\n%s\nwant:\n%s", got, want)
	}
}
