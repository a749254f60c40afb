package main

import (
	"encoding/json"
	"os"
	"time"

	"appkernel.dev/appkernel/test/benchmarks/internal/bench"
)

// jsonReport is the -json file: everything the table shows, plus every
// sample, so runs can be compared over time.
type jsonReport struct {
	Time      time.Time    `json:"time"`
	Host      bench.Host   `json:"host"`
	Runsc     string       `json:"runsc,omitempty"`
	Benchtime string       `json:"benchtime"`
	Count     int          `json:"count"`
	Results   []jsonResult `json:"results"`
}

type jsonResult struct {
	Workload string `json:"workload"`
	Mode     string `json:"mode"`
	Unit     string `json:"unit"`
	// Median is in Unit; absent when the run failed or was skipped.
	Median *float64 `json:"median,omitempty"`
	// Ratio is Median over the native median; absent when either is.
	Ratio        *float64  `json:"ratio,omitempty"`
	Samples      []float64 `json:"samples,omitempty"`
	Iterations   int64     `json:"iterations,omitempty"`
	MaxRSSKB     int64     `json:"maxrss_kb,omitempty"`
	SelfMaxRSSKB int64     `json:"self_maxrss_kb,omitempty"`
	Launches     int       `json:"launches,omitempty"`
	Error        string    `json:"error,omitempty"`
}

func writeJSON(o *options, host bench.Host, selected []*workload, modes []bench.Mode,
	results map[string]map[string]outcome, buildErrs, sandboxSkip map[string]string) error {
	rep := jsonReport{Time: time.Now().UTC(), Host: host, Runsc: o.runsc, Benchtime: o.benchtime.String(), Count: o.count}
	for _, w := range selected {
		native, nativeOK := results[w.id][modes[0].Name]
		for _, m := range modes {
			r := jsonResult{Workload: w.id, Mode: m.Name, Unit: w.unit}
			oc, ok := results[w.id][m.Name]
			switch {
			case sandboxSkip[m.Name] != "":
				r.Error = sandboxSkip[m.Name]
			case buildErrs[w.id] != "":
				r.Error = buildErrs[w.id]
			case !ok:
				r.Error = "not run"
			case oc.err != nil:
				r.Error = oc.err.Error()
			default:
				med := oc.m.MedianNs() / w.nsPerUnit
				r.Median = &med
				for _, s := range oc.m.Samples {
					r.Samples = append(r.Samples, s/w.nsPerUnit)
				}
				r.Iterations, r.MaxRSSKB, r.SelfMaxRSSKB, r.Launches = oc.m.Iterations, oc.m.MaxRSSKB, oc.m.SelfMaxRSSKB, oc.m.Launches
				if nativeOK && native.err == nil {
					if ratio, ok := bench.Ratio(bench.Value(native.m.MedianNs()), bench.Value(oc.m.MedianNs())); ok {
						r.Ratio = &ratio
					}
				}
			}
			rep.Results = append(rep.Results, r)
		}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(o.jsonFile, append(b, '\n'), 0o644)
}
