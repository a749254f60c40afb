package bench

import (
	"strings"
	"testing"
)

func TestParseResult(t *testing.T) {
	r, err := ParseResult("RESULT name=getpid iterations=4 total_ns=1000 ns_per_op=250.000 maxrss_kb=544 extra=ignored")
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Name: "getpid", Iterations: 4, TotalNs: 1000, NsPerOp: 250, SelfMaxRSSKB: 544}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}

	// maxrss_kb is optional; ns_per_op rounding to three decimals is fine.
	r, err = ParseResult("RESULT name=x iterations=3 total_ns=1000 ns_per_op=333.333")
	if err != nil || r.SelfMaxRSSKB != 0 || r.Iterations != 3 {
		t.Errorf("got %+v, %v", r, err)
	}
}

func TestParseResultRejects(t *testing.T) {
	for _, line := range []string{
		"",
		"RESULTS name=x iterations=1 total_ns=1 ns_per_op=1",
		"name=x iterations=1 total_ns=1 ns_per_op=1",
		"RESULT iterations=1 total_ns=1 ns_per_op=1",               // no name
		"RESULT name=x total_ns=1 ns_per_op=1",                     // no iterations
		"RESULT name=x iterations=1 ns_per_op=1",                   // no total
		"RESULT name=x iterations=1 total_ns=1",                    // no per-op
		"RESULT name=x iterations=0 total_ns=0 ns_per_op=0",        // zero iterations
		"RESULT name=x iterations=-2 total_ns=10 ns_per_op=-5",     // negative
		"RESULT name=x iterations=1e3 total_ns=1 ns_per_op=1",      // not an integer
		"RESULT name=x iterations=2 total_ns=1000 ns_per_op=400",   // inconsistent
		"RESULT name=x iterations=1 total_ns=1 ns_per_op=1 junk",   // not key=value
		"RESULT name=x name=y iterations=1 total_ns=1 ns_per_op=1", // repeated key
		"RESULT name= iterations=1 total_ns=1 ns_per_op=1",         // empty name
	} {
		if r, err := ParseResult(line); err == nil {
			t.Errorf("ParseResult(%q) = %+v, want an error", line, r)
		}
	}
}

func TestFindResult(t *testing.T) {
	out := "noise\nRESULT name=other iterations=1 total_ns=5 ns_per_op=5.000\nRESULT name=getpid iterations=2 total_ns=10 ns_per_op=5.000\ntrailer\n"
	r, err := FindResult([]byte(out), "getpid")
	if err != nil || r.Iterations != 2 {
		t.Fatalf("got %+v, %v", r, err)
	}
	if _, err := FindResult([]byte("started\n"), "getpid"); err == nil || !strings.Contains(err.Error(), "started") {
		t.Errorf("missing RESULT: err = %v, want one quoting the output", err)
	}
	twice := "RESULT name=getpid iterations=1 total_ns=5 ns_per_op=5.000\nRESULT name=getpid iterations=1 total_ns=5 ns_per_op=5.000\n"
	if _, err := FindResult([]byte(twice), "getpid"); err == nil {
		t.Error("two RESULT lines for one workload: want an error")
	}
	if _, err := FindResult([]byte("RESULT name=getpid iterations=1\n"), "getpid"); err == nil {
		t.Error("garbled RESULT line: want an error")
	}
}

func TestFirstLine(t *testing.T) {
	if got := FirstLine("\n  \n  runsc: boom \nmore"); got != "runsc: boom" {
		t.Errorf("FirstLine = %q", got)
	}
	if got := FirstLine(" \n"); got != "" {
		t.Errorf("FirstLine of blank = %q", got)
	}
}

func TestParseSpawnReport(t *testing.T) {
	r, err := ParseSpawnReport("SPAWN wall_ns=1500000 maxrss_kb=544 status=256\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.Wall.Microseconds() != 1500 || r.MaxRSSKB != 544 || r.Status != 256 {
		t.Errorf("got %+v", r)
	}
	for _, bad := range []string{"", "SPAWN", "SPAWN wall_ns=1 maxrss_kb=2", "SPAWN wall_ns=x maxrss_kb=2 status=0", "RESULT wall_ns=1 maxrss_kb=2 status=0", "SPAWN wall_ns=-1 maxrss_kb=2 status=0"} {
		if _, err := ParseSpawnReport(bad); err == nil {
			t.Errorf("ParseSpawnReport(%q): want an error", bad)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{1, 1, 1000}, 1}, // one descheduled run does not move it
	} {
		in := append([]float64(nil), c.in...)
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Errorf("Median reordered its input: %v", c.in)
			}
		}
	}
}
