package metricserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"appkernel.dev/appkernel/pkg/metric"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/container"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// trusted is the schema the tests' server trusts.
func trusted() []metric.Metadata {
	r := metric.NewRegistry()
	r.NewCounter("t_syscalls_total", "calls", metric.UnitNone, "syscall", "read", "write")
	r.NewGauge("t_tasks", "tasks", metric.UnitNone, "")
	r.NewHistogram("t_latency_seconds", "latency", metric.UnitNanoseconds, 1000, 2000)
	r.Freeze()
	return r.Metadata()
}

// self is this test process as runsc records a sandbox process.
func self(t *testing.T) container.Process {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return container.Process{PID: os.Getpid(), StartTime: start}
}

// fakeSandbox makes root/id look like a running container whose control
// socket answers with metadata md and snapshots from snap.
func fakeSandbox(t *testing.T, root, id string, md []metric.Metadata, snap func() metric.Snapshot) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := container.State{ID: id, Status: container.Running, Sandbox: self(t)}
	data, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, "state.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, sandbox.ControlSocket))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var req boot.ControlRequest
			json.NewDecoder(c).Decode(&req)
			var resp boot.MetricsResponse
			switch req.Cmd {
			case boot.CtlMetricMetadata:
				resp.Metadata = md
			case boot.CtlMetrics:
				s := snap()
				resp.Snapshot = &s
			}
			json.NewEncoder(c).Encode(resp)
			c.Close()
		}
	}()
}

func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, resp.StatusCode
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams, resp.StatusCode
}

func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.Label {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func TestServerRelaysOnlyWhatWasRegistered(t *testing.T) {
	root := t.TempDir()
	good := trusted()
	// The sandbox claims an extra metric, an extra label value and a
	// different histogram: none of it may come through.
	evil := append([]metric.Metadata{}, good...)
	evil = append(evil, metric.Metadata{Name: "t_evil_total", Help: "x", Type: metric.TypeCounter})
	for i := range evil {
		if evil[i].Name == "t_latency_seconds" {
			evil[i].Buckets = []int64{1, 2}
		}
	}
	n := int64(0)
	fakeSandbox(t, root, "a", evil, func() metric.Snapshot {
		n++
		return metric.Snapshot{Metrics: []metric.Value{
			{Name: "t_syscalls_total", Values: map[string]int64{"read": 10 * n, "write": 3, "bogus": 5}},
			{Name: "t_tasks", Values: map[string]int64{"": 4}},
			{Name: "t_tasks", Values: map[string]int64{"": 9}}, // reported twice
			{Name: "t_latency_seconds", Histogram: &metric.HistogramValue{Counts: []uint64{1, 1, 1}, Sum: 4000}},
			{Name: "t_evil_total", Values: map[string]int64{"": 1}},
		}}
	})
	fakeSandbox(t, root, "b", good, func() metric.Snapshot {
		return metric.Snapshot{Metrics: []metric.Value{
			{Name: "t_tasks", Values: map[string]int64{"": -1}}, // out of range
			{Name: "t_latency_seconds", Histogram: &metric.HistogramValue{Counts: []uint64{2, 0, 1}, Sum: 5000}},
		}}
	})
	s, err := New(Options{Root: root, Schema: good})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()

	fams, _ := scrape(t, hs.URL+"/metrics")
	var got []string
	for name, mf := range fams {
		for _, m := range mf.Metric {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			got = append(got, fmt.Sprintf("%s{%s}=%g", name, labelsOf(m), v))
		}
	}
	want := []string{
		"appkernel_sandbox_metrics_dropped_total{container=a,sandbox=a}=4", // bogus label, t_tasks twice, the histogram, t_evil_total
		"appkernel_sandbox_metrics_dropped_total{container=b,sandbox=b}=1",
		"appkernel_sandbox_up{container=a,sandbox=a}=1",
		"appkernel_sandbox_up{container=b,sandbox=b}=1",
		"t_latency_seconds{container=b,sandbox=b}=3",
		"t_syscalls_total{syscall=read,container=a,sandbox=a}=10",
		"t_syscalls_total{syscall=write,container=a,sandbox=a}=3",
		"t_tasks{container=a,sandbox=a}=4",
	}
	if strings.Join(sorted(got), "\n") != strings.Join(want, "\n") {
		t.Errorf("scrape:\n%s\nwant:\n%s", strings.Join(sorted(got), "\n"), strings.Join(want, "\n"))
	}
	h := fams["t_latency_seconds"].Metric[0].GetHistogram()
	if h.GetSampleSum() != 5e-6 || h.Bucket[0].GetUpperBound() != 1e-6 || h.Bucket[1].GetCumulativeCount() != 2 {
		t.Errorf("histogram not converted to seconds and cumulative buckets: %v", h)
	}

	// One sandbox, by id.
	fams, code := scrape(t, hs.URL+"/metrics?sandbox=b")
	if code != 200 || len(fams["appkernel_sandbox_up"].Metric) != 1 {
		t.Errorf("?sandbox=b: code %d, %v", code, fams["appkernel_sandbox_up"])
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestCounterGoingBackwardsIsDropped(t *testing.T) {
	root := t.TempDir()
	vals := []int64{5, 3, 7}
	i := 0
	fakeSandbox(t, root, "a", trusted(), func() metric.Snapshot {
		v := vals[i]
		i++
		return metric.Snapshot{Metrics: []metric.Value{{Name: "t_syscalls_total", Values: map[string]int64{"read": v}}}}
	})
	s, err := New(Options{Root: root, Schema: trusted()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	var seen []float64
	for range vals {
		fams, _ := scrape(t, hs.URL+"/metrics")
		if mf := fams["t_syscalls_total"]; mf != nil {
			seen = append(seen, mf.Metric[0].GetCounter().GetValue())
		} else {
			seen = append(seen, -1)
		}
	}
	if fmt.Sprint(seen) != "[5 -1 7]" {
		t.Errorf("values relayed %v, want [5 -1 7] (3 < 5 dropped)", seen)
	}
}

func TestSandboxesOutsideTheRootAreRefused(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	other := filepath.Join(base, "other")
	fakeSandbox(t, other, "outside", trusted(), func() metric.Snapshot { return metric.Snapshot{} })
	fakeSandbox(t, root, "inside", trusted(), func() metric.Snapshot { return metric.Snapshot{} })
	// A symlink in the root to a sandbox elsewhere is not a container
	// under the root.
	if err := os.Symlink(filepath.Join(other, "outside"), filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	// Nor is a directory whose state names another container.
	fakeSandbox(t, root, "liar", trusted(), func() metric.Snapshot { return metric.Snapshot{} })
	data, _ := json.Marshal(container.State{ID: "inside", Sandbox: self(t)})
	os.WriteFile(filepath.Join(root, "liar", "state.json"), data, 0o600)

	s, err := New(Options{Root: root, Schema: trusted()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	for _, id := range []string{"outside", "linked", "liar", "../other/outside", "..", "inside/../../other/outside"} {
		if _, code := scrape(t, hs.URL+"/metrics?sandbox="+id); code != http.StatusNotFound {
			t.Errorf("?sandbox=%s: status %d, want 404", id, code)
		}
	}
	fams, _ := scrape(t, hs.URL+"/metrics")
	up := fams["appkernel_sandbox_up"]
	if up == nil || len(up.Metric) != 1 || labelsOf(up.Metric[0]) != "container=inside,sandbox=inside" {
		t.Errorf("sandboxes served: %v, want only inside", up)
	}
}

func TestDeadSandboxIsNotServed(t *testing.T) {
	root := t.TempDir()
	fakeSandbox(t, root, "dead", trusted(), func() metric.Snapshot { return metric.Snapshot{} })
	data, _ := json.Marshal(container.State{ID: "dead", Sandbox: container.Process{PID: os.Getpid(), StartTime: 1}})
	os.WriteFile(filepath.Join(root, "dead", "state.json"), data, 0o600)
	targets, err := discover(root)
	if err != nil || len(targets) != 0 {
		t.Errorf("discover = %v, %v; want nothing (the recorded process is not this one)", targets, err)
	}
}
