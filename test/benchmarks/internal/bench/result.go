package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ResultPrefix starts the one line a workload prints with its measurement.
const ResultPrefix = "RESULT "

// Result is one parsed RESULT line (see workloads/bench.h for the format).
type Result struct {
	Name       string
	Iterations int64
	// TotalNs is the duration of the timed loop, without process start-up.
	TotalNs int64
	NsPerOp float64
	// SelfMaxRSSKB is the workload's own getrusage(RUSAGE_SELF) peak RSS in
	// KiB, as the kernel it ran on reported it; 0 when the line has none.
	SelfMaxRSSKB int64
}

// ParseResult parses one RESULT line. name, iterations, total_ns and
// ns_per_op are required and must be consistent, so a truncated or garbled
// line is an error rather than a wrong number; unknown keys are ignored so
// that a workload may add fields.
func ParseResult(line string) (Result, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), strings.TrimSpace(ResultPrefix))
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return Result{}, fmt.Errorf("not a RESULT line: %q", line)
	}
	var r Result
	seen := map[string]bool{}
	for _, field := range strings.Fields(rest) {
		key, val, ok := strings.Cut(field, "=")
		if !ok || key == "" {
			return Result{}, fmt.Errorf("RESULT field %q is not key=value", field)
		}
		if seen[key] {
			return Result{}, fmt.Errorf("RESULT key %q repeated", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "name":
			r.Name = val
		case "iterations":
			r.Iterations, err = strconv.ParseInt(val, 10, 64)
		case "total_ns":
			r.TotalNs, err = strconv.ParseInt(val, 10, 64)
		case "ns_per_op":
			r.NsPerOp, err = strconv.ParseFloat(val, 64)
		case "maxrss_kb":
			r.SelfMaxRSSKB, err = strconv.ParseInt(val, 10, 64)
		}
		if err != nil {
			return Result{}, fmt.Errorf("RESULT %s: %v", key, err)
		}
	}
	for _, k := range []string{"name", "iterations", "total_ns", "ns_per_op"} {
		if !seen[k] {
			return Result{}, fmt.Errorf("RESULT line lacks %s: %q", k, line)
		}
	}
	if r.Name == "" || r.Iterations < 1 || r.TotalNs < 0 || r.NsPerOp < 0 {
		return Result{}, fmt.Errorf("RESULT values out of range: %q", line)
	}
	// ns_per_op is printed with three decimals; anything further off than
	// rounding means the line does not describe one run.
	if want := float64(r.TotalNs) / float64(r.Iterations); abs(want-r.NsPerOp) > 0.001+want*1e-9 {
		return Result{}, fmt.Errorf("RESULT ns_per_op=%g disagrees with total_ns/iterations=%g", r.NsPerOp, want)
	}
	return r, nil
}

// FindResult returns the RESULT line for workload name in a run's output.
// Exactly one is expected: none means the workload did not finish its
// measurement, several mean the output cannot be attributed.
func FindResult(output []byte, name string) (Result, error) {
	var found []Result
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, ResultPrefix) {
			continue
		}
		r, err := ParseResult(line)
		if err != nil {
			return Result{}, err
		}
		if r.Name == name {
			found = append(found, r)
		}
	}
	if err := sc.Err(); err != nil {
		return Result{}, err
	}
	switch len(found) {
	case 0:
		return Result{}, fmt.Errorf("no RESULT line for %s in output %q", name, FirstLine(string(output)))
	case 1:
		return found[0], nil
	default:
		return Result{}, fmt.Errorf("%d RESULT lines for %s", len(found), name)
	}
}

// FirstLine returns the first non-blank line of s, trimmed, for footnotes.
func FirstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
