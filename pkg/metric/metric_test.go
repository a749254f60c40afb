package metric

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: did not panic", what)
		}
	}()
	f()
}

func TestRegisterAndSnapshot(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter("x_calls_total", "calls", UnitNone, "call", "read", "write")
	g := r.NewGauge("x_tasks", "tasks", UnitNone, "")
	h := r.NewHistogram("x_latency_seconds", "latency", UnitNanoseconds, 10, 100)
	r.Freeze()

	c.IncLabel(c.Metadata().LabelIndex("write"))
	c.AddLabel(1, 2)
	c.IncLabel(7) // out of range: ignored
	c.IncLabel(-1)
	g.Set(5)
	g.Add(-2)
	for _, v := range []int64{1, 10, 11, 1000} {
		h.Observe(v)
	}
	s := r.Snapshot()
	got, _ := json.Marshal(s)
	want := `{"metrics":[{"name":"x_calls_total","values":{"write":3}},` +
		`{"name":"x_latency_seconds","histogram":{"counts":[2,1,1],"sum":1022}},` +
		`{"name":"x_tasks","values":{"":3}}]}`
	if string(got) != want {
		t.Errorf("snapshot\n got %s\nwant %s", got, want)
	}
	md := r.Metadata()
	if len(md) != 3 || md[0].Name != "x_calls_total" || md[0].LabelValues[1] != "write" {
		t.Errorf("metadata = %+v", md)
	}
	// The metadata returned is a copy: changing it changes nothing.
	md[0].LabelValues[0] = "evil"
	if r.Metadata()[0].LabelValues[0] != "read" {
		t.Error("Metadata returned the registry's own slice")
	}
}

func TestFrozenRegistryRefusesRegistration(t *testing.T) {
	r := NewRegistry()
	r.NewGauge("a", "a", UnitNone, "")
	r.Freeze()
	if !r.Frozen() {
		t.Fatal("not frozen")
	}
	mustPanic(t, "register after freeze", func() { r.NewGauge("b", "b", UnitNone, "") })
	if len(r.Metadata()) != 1 {
		t.Errorf("registration after freeze took effect")
	}
}

func TestInvalidMetadataPanics(t *testing.T) {
	r := NewRegistry()
	r.NewGauge("dup", "d", UnitNone, "")
	for name, f := range map[string]func(){
		"duplicate":           func() { r.NewGauge("dup", "d", UnitNone, "") },
		"bad name":            func() { r.NewGauge("a-b", "d", UnitNone, "") },
		"counter w/o _total":  func() { r.NewCounter("calls", "d", UnitNone, "") },
		"no help":             func() { r.NewGauge("nohelp", "", UnitNone, "") },
		"reserved label":      func() { r.NewGauge("g1", "d", UnitNone, "sandbox", "x") },
		"label without value": func() { r.NewGauge("g2", "d", UnitNone, "kind") },
		"duplicate value":     func() { r.NewGauge("g3", "d", UnitNone, "kind", "a", "a") },
		"empty value":         func() { r.NewGauge("g4", "d", UnitNone, "kind", "") },
		"long value":          func() { r.NewGauge("g5", "d", UnitNone, "kind", strings.Repeat("x", 200)) },
		"unsorted buckets":    func() { r.NewHistogram("h1", "d", UnitNone, 5, 5) },
		"no buckets":          func() { r.NewHistogram("h2", "d", UnitNone) },
		"ns not seconds":      func() { r.NewGauge("g6", "d", UnitNanoseconds, "") },
	} {
		mustPanic(t, name, f)
	}
}

func TestMetadataEqual(t *testing.T) {
	a := Metadata{Name: "a_total", Help: "h", Type: TypeCounter, Label: "k", LabelValues: []string{"x", "y"}}
	b := a
	b.LabelValues = []string{"x", "y"}
	if !a.Equal(&b) {
		t.Error("equal metadata compare unequal")
	}
	b.LabelValues = []string{"x", "z"}
	if a.Equal(&b) {
		t.Error("different label values compare equal")
	}
}

func TestStoreMaxIsMonotonic(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter("m_total", "m", UnitNone, "")
	c.StoreMax(0, 10)
	c.StoreMax(0, 4)
	if got := c.Load(0); got != 10 {
		t.Errorf("after StoreMax(10), StoreMax(4): %d, want 10", got)
	}
}

// The counting paths are what the Sentry runs per syscall and per fault:
// they must not allocate.
func TestHotPathsDoNotAllocate(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter("a_total", "a", UnitNone, "k", "x", "y")
	g := r.NewGauge("b", "b", UnitNone, "")
	h := r.NewHistogram("c", "c", UnitNone, ExponentialBuckets(1, 4, 8)...)
	if n := testing.AllocsPerRun(1000, func() {
		c.IncLabel(1)
		c.Inc()
		g.Add(1)
		h.Observe(77)
	}); n != 0 {
		t.Errorf("%v allocations per update, want 0", n)
	}
}

func TestConcurrentCounting(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter("a_total", "a", UnitNone, "")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10000 {
				c.Inc()
			}
		}()
	}
	wg.Wait()
	if got := c.Load(0); got != 80000 {
		t.Errorf("count = %d, want 80000", got)
	}
}

func BenchmarkCounterIncLabel(b *testing.B) {
	r := NewRegistry()
	c := r.NewCounter("a_total", "a", UnitNone, "k", "x", "y")
	for b.Loop() {
		c.IncLabel(1)
	}
}
