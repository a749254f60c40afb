package metric

import "sync/atomic"

// Gauge is a value that goes up and down, one per label value.
type Gauge struct {
	md   Metadata
	vals []atomic.Int64
}

// NewGauge registers a gauge in r; see NewCounter for the label.
func (r *Registry) NewGauge(name, help string, unit Unit, label string, values ...string) *Gauge {
	g := &Gauge{md: Metadata{Name: name, Help: help, Type: TypeGauge, Unit: unit, Label: label, LabelValues: values}}
	g.vals = make([]atomic.Int64, g.md.series())
	r.register(g)
	return g
}

// NewGauge registers a gauge in Default.
func NewGauge(name, help string, unit Unit, label string, values ...string) *Gauge {
	return Default.NewGauge(name, help, unit, label, values...)
}

// Metadata returns the gauge's registered description.
func (g *Gauge) Metadata() *Metadata { return &g.md }

// Set sets an unlabeled gauge.
func (g *Gauge) Set(v int64) { g.vals[0].Store(v) }

// Add adds d (which may be negative) to an unlabeled gauge.
func (g *Gauge) Add(d int64) { g.vals[0].Add(d) }

// SetLabel sets the value at label index i; an index out of range is
// ignored.
func (g *Gauge) SetLabel(i int, v int64) {
	if uint(i) < uint(len(g.vals)) {
		g.vals[i].Store(v)
	}
}

// Load returns the value at index i.
func (g *Gauge) Load(i int) int64 {
	if uint(i) >= uint(len(g.vals)) {
		return 0
	}
	return g.vals[i].Load()
}

func (g *Gauge) meta() *Metadata { return &g.md }

func (g *Gauge) value() Value {
	v := Value{Name: g.md.Name, Values: make(map[string]int64)}
	if g.md.Label == "" {
		v.Values[""] = g.vals[0].Load()
		return v
	}
	for i := range g.vals {
		if n := g.vals[i].Load(); n != 0 {
			v.Values[g.md.LabelValues[i]] = n
		}
	}
	return v
}
