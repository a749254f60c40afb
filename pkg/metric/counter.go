package metric

import "sync/atomic"

// Counter is a monotonic count, one per label value.
type Counter struct {
	md   Metadata
	vals []atomic.Uint64
}

// NewCounter registers a counter in r. label may be empty (then values
// must be too); values are every value the label may take.
func (r *Registry) NewCounter(name, help string, unit Unit, label string, values ...string) *Counter {
	c := &Counter{md: Metadata{Name: name, Help: help, Type: TypeCounter, Unit: unit, Label: label, LabelValues: values}}
	c.vals = make([]atomic.Uint64, c.md.series())
	r.register(c)
	return c
}

// NewCounter registers a counter in Default.
func NewCounter(name, help string, unit Unit, label string, values ...string) *Counter {
	return Default.NewCounter(name, help, unit, label, values...)
}

// Metadata returns the counter's registered description.
func (c *Counter) Metadata() *Metadata { return &c.md }

// Inc adds one to an unlabeled counter.
func (c *Counter) Inc() { c.vals[0].Add(1) }

// Add adds n to an unlabeled counter.
func (c *Counter) Add(n uint64) { c.vals[0].Add(n) }

// IncLabel adds one for the label value at index i (see
// Metadata.LabelIndex); an index out of range is ignored rather than
// trusted.
func (c *Counter) IncLabel(i int) {
	if uint(i) < uint(len(c.vals)) {
		c.vals[i].Add(1)
	}
}

// AddLabel adds n for the label value at index i.
func (c *Counter) AddLabel(i int, n uint64) {
	if uint(i) < uint(len(c.vals)) {
		c.vals[i].Add(n)
	}
}

// StoreMax sets the value at index i to v unless it is already larger.
// It is for counters that mirror a count kept elsewhere, sampled when
// metrics are read, and keeps them monotonic even if the source briefly
// reads lower.
func (c *Counter) StoreMax(i int, v uint64) {
	if uint(i) >= uint(len(c.vals)) {
		return
	}
	for {
		old := c.vals[i].Load()
		if v <= old || c.vals[i].CompareAndSwap(old, v) {
			return
		}
	}
}

// Load returns the value at index i.
func (c *Counter) Load(i int) uint64 {
	if uint(i) >= uint(len(c.vals)) {
		return 0
	}
	return c.vals[i].Load()
}

func (c *Counter) meta() *Metadata { return &c.md }

func (c *Counter) value() Value {
	v := Value{Name: c.md.Name, Values: make(map[string]int64)}
	if c.md.Label == "" {
		v.Values[""] = int64(c.vals[0].Load())
		return v
	}
	for i := range c.vals {
		if n := c.vals[i].Load(); n != 0 {
			v.Values[c.md.LabelValues[i]] = int64(n)
		}
	}
	return v
}
