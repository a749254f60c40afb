// Package metric is the Sentry's registry of metrics: counters, gauges and
// histograms whose metadata (name, help, type, allowed label values,
// buckets) is fixed at process start, before any application code runs,
// and whose values are updated with single atomic operations: no locks,
// no maps and no allocation on the paths that count.
//
// The Sentry is untrusted once the application runs, so whoever relays
// its metrics (runsc metric-server) trusts only the metadata registered
// here at start-up and checks every value against it. That is why a
// metric has at most one label whose values are all listed up front: a
// value the Sentry reports for an unlisted label cannot be relayed, and
// the number of series is bounded by the registration.
//
// Metrics are registered from package initialisation (package-level
// variables); Freeze then closes the registry, and any later registration
// panics.
package metric

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Type is a metric's kind, as Prometheus names it.
type Type string

// The metric types.
const (
	// TypeCounter only goes up (until the process restarts).
	TypeCounter Type = "counter"
	// TypeGauge goes up and down.
	TypeGauge Type = "gauge"
	// TypeHistogram counts observations into fixed buckets.
	TypeHistogram Type = "histogram"
)

// Unit says how a metric's integer values map to what is exposed.
type Unit string

// The units.
const (
	// UnitNone: values are exposed as they are.
	UnitNone Unit = ""
	// UnitNanoseconds: values (and histogram bounds) are nanoseconds,
	// exposed in seconds, Prometheus's base unit; the name ends in
	// _seconds or _seconds_total.
	UnitNanoseconds Unit = "nanoseconds"
	// UnitBytes: values are bytes; the name ends in _bytes.
	UnitBytes Unit = "bytes"
)

// Metadata describes one metric. It is what a relay trusts.
type Metadata struct {
	// Name is the Prometheus metric name.
	Name string `json:"name"`
	Help string `json:"help"`
	Type Type   `json:"type"`
	Unit Unit   `json:"unit,omitempty"`
	// Label names the metric's one dimension; empty for none.
	Label string `json:"label,omitempty"`
	// LabelValues are every value Label may take.
	LabelValues []string `json:"labelValues,omitempty"`
	// Buckets are a histogram's upper bounds (inclusive), increasing; a
	// last bucket without bound follows them.
	Buckets []int64 `json:"buckets,omitempty"`
}

// Bounds on metadata, so a registration mistake cannot produce a metric
// no relay would accept.
const (
	maxLabelValues  = 1024
	maxLabelValueLn = 128
	maxBuckets      = 64
	maxHelpLen      = 1024
)

var (
	nameRE  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// ReservedLabels are added by the relay (which sandbox, which container;
// le is the histogram bucket label) and so may not be registered.
var ReservedLabels = []string{"sandbox", "container", "le"}

// Validate reports whether m is well formed.
func (m *Metadata) Validate() error {
	if !nameRE.MatchString(m.Name) {
		return fmt.Errorf("metric name %q is not a Prometheus name", m.Name)
	}
	if m.Help == "" || len(m.Help) > maxHelpLen {
		return fmt.Errorf("metric %s: help must be 1 to %d bytes", m.Name, maxHelpLen)
	}
	switch m.Type {
	case TypeCounter:
		if !hasSuffix(m.Name, "_total") {
			return fmt.Errorf("counter %s: name must end in _total", m.Name)
		}
	case TypeGauge:
	case TypeHistogram:
		if m.Label != "" {
			return fmt.Errorf("histogram %s: histograms take no label", m.Name)
		}
		if len(m.Buckets) == 0 || len(m.Buckets) > maxBuckets {
			return fmt.Errorf("histogram %s: want 1 to %d buckets", m.Name, maxBuckets)
		}
		for i := 1; i < len(m.Buckets); i++ {
			if m.Buckets[i] <= m.Buckets[i-1] {
				return fmt.Errorf("histogram %s: bucket bounds must increase", m.Name)
			}
		}
	default:
		return fmt.Errorf("metric %s: unknown type %q", m.Name, m.Type)
	}
	if m.Type != TypeHistogram && len(m.Buckets) != 0 {
		return fmt.Errorf("metric %s: only histograms have buckets", m.Name)
	}
	switch m.Unit {
	case UnitNone:
	case UnitNanoseconds:
		if !hasSuffix(m.Name, "_seconds") && !hasSuffix(m.Name, "_seconds_total") {
			return fmt.Errorf("metric %s in nanoseconds: name must end in _seconds or _seconds_total", m.Name)
		}
	case UnitBytes:
		if !hasSuffix(m.Name, "_bytes") && !hasSuffix(m.Name, "_bytes_total") {
			return fmt.Errorf("metric %s in bytes: name must end in _bytes or _bytes_total", m.Name)
		}
	default:
		return fmt.Errorf("metric %s: unknown unit %q", m.Name, m.Unit)
	}
	if m.Label == "" {
		if len(m.LabelValues) != 0 {
			return fmt.Errorf("metric %s: label values without a label", m.Name)
		}
		return nil
	}
	if !labelRE.MatchString(m.Label) || len(m.Label) > 2 && m.Label[:2] == "__" {
		return fmt.Errorf("metric %s: label %q is not a Prometheus label name", m.Name, m.Label)
	}
	if slices.Contains(ReservedLabels, m.Label) {
		return fmt.Errorf("metric %s: label %q is reserved", m.Name, m.Label)
	}
	if len(m.LabelValues) == 0 || len(m.LabelValues) > maxLabelValues {
		return fmt.Errorf("metric %s: want 1 to %d label values", m.Name, maxLabelValues)
	}
	seen := make(map[string]bool, len(m.LabelValues))
	for _, v := range m.LabelValues {
		if v == "" || len(v) > maxLabelValueLn {
			return fmt.Errorf("metric %s: label value %q must be 1 to %d bytes", m.Name, v, maxLabelValueLn)
		}
		if seen[v] {
			return fmt.Errorf("metric %s: label value %q listed twice", m.Name, v)
		}
		seen[v] = true
	}
	return nil
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// Equal reports whether m and o describe the same metric.
func (m *Metadata) Equal(o *Metadata) bool {
	return m.Name == o.Name && m.Help == o.Help && m.Type == o.Type &&
		m.Unit == o.Unit && m.Label == o.Label &&
		slices.Equal(m.LabelValues, o.LabelValues) && slices.Equal(m.Buckets, o.Buckets)
}

// series is how many values a metric of this shape keeps.
func (m *Metadata) series() int {
	if m.Label == "" {
		return 1
	}
	return len(m.LabelValues)
}

// LabelIndex returns the index of label value v in m.LabelValues, or -1.
// It is for set-up code: hot paths keep the index.
func (m *Metadata) LabelIndex(v string) int {
	return slices.Index(m.LabelValues, v)
}

// metric is one registered metric.
type metric interface {
	meta() *Metadata
	// value reads the metric's current value.
	value() Value
}

// Registry holds metrics. Registration happens at start-up; values are
// read with Snapshot at any time.
type Registry struct {
	// mu guards metrics, byName and frozen against concurrent
	// registration. After Freeze, metrics never changes, so readers that
	// observed frozen need no lock.
	mu      sync.Mutex
	frozen  atomic.Bool
	metrics []metric
	byName  map[string]metric
}

// NewRegistry returns an empty, open registry.
func NewRegistry() *Registry {
	return &Registry{byName: make(map[string]metric)}
}

// Default is the process's registry, which the Sentry's packages register
// into and runsc freezes before it runs anything.
var Default = NewRegistry()

// Freeze closes r to registration. It is idempotent.
func (r *Registry) Freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen.Store(true)
}

// Frozen reports whether Freeze was called.
func (r *Registry) Frozen() bool { return r.frozen.Load() }

// register adds m, panicking on a programming error: metrics are
// registered from package initialisation, where an error has no one to
// go to.
func (r *Registry) register(m metric) {
	md := m.meta()
	if err := md.Validate(); err != nil {
		panic(fmt.Sprintf("metric: %v", err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen.Load() {
		panic(fmt.Sprintf("metric: %s registered after the registry was frozen", md.Name))
	}
	if _, ok := r.byName[md.Name]; ok {
		panic(fmt.Sprintf("metric: %s registered twice", md.Name))
	}
	r.byName[md.Name] = m
	r.metrics = append(r.metrics, m)
}

// all returns the registered metrics.
func (r *Registry) all() []metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.metrics[:len(r.metrics):len(r.metrics)]
}

// Metadata returns every registered metric's metadata, sorted by name.
func (r *Registry) Metadata() []Metadata {
	ms := r.all()
	out := make([]Metadata, len(ms))
	for i, m := range ms {
		md := *m.meta()
		md.LabelValues = slices.Clone(md.LabelValues)
		md.Buckets = slices.Clone(md.Buckets)
		out[i] = md
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Value is one metric's value at a point in time.
type Value struct {
	Name string `json:"name"`
	// Values holds a counter's or gauge's value for each label value
	// ("" when the metric has no label). Labels whose value is zero are
	// left out.
	Values map[string]int64 `json:"values,omitempty"`
	// Histogram is set for histograms.
	Histogram *HistogramValue `json:"histogram,omitempty"`
}

// HistogramValue is a histogram's state.
type HistogramValue struct {
	// Counts[i] counts the observations in bucket i (not cumulative);
	// the last entry is the bucket without upper bound.
	Counts []uint64 `json:"counts"`
	// Sum is the sum of every observation.
	Sum int64 `json:"sum"`
}

// Snapshot is every metric's value.
type Snapshot struct {
	Metrics []Value `json:"metrics"`
}

// Snapshot reads every metric. Values are read one at a time, so a
// snapshot is not atomic across metrics; each counter is monotonic.
func (r *Registry) Snapshot() Snapshot {
	ms := r.all()
	s := Snapshot{Metrics: make([]Value, 0, len(ms))}
	for _, m := range ms {
		s.Metrics = append(s.Metrics, m.value())
	}
	sort.Slice(s.Metrics, func(i, j int) bool { return s.Metrics[i].Name < s.Metrics[j].Name })
	return s
}
