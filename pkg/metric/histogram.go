package metric

import "sync/atomic"

// Histogram counts observations into buckets fixed at registration.
type Histogram struct {
	md Metadata
	// counts[i] counts observations in bucket i; the last is unbounded.
	counts []atomic.Uint64
	sum    atomic.Int64
}

// NewHistogram registers a histogram in r with the given inclusive upper
// bounds, increasing.
func (r *Registry) NewHistogram(name, help string, unit Unit, buckets ...int64) *Histogram {
	h := &Histogram{md: Metadata{Name: name, Help: help, Type: TypeHistogram, Unit: unit, Buckets: buckets}}
	h.counts = make([]atomic.Uint64, len(buckets)+1)
	r.register(h)
	return h
}

// NewHistogram registers a histogram in Default.
func NewHistogram(name, help string, unit Unit, buckets ...int64) *Histogram {
	return Default.NewHistogram(name, help, unit, buckets...)
}

// ExponentialBuckets returns n bounds start, start*factor, ...
func ExponentialBuckets(start, factor int64, n int) []int64 {
	b := make([]int64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// Metadata returns the histogram's registered description.
func (h *Histogram) Metadata() *Metadata { return &h.md }

// Observe records v. The bounds are few, so a linear scan is as fast as
// a binary search and needs no allocation.
func (h *Histogram) Observe(v int64) {
	i := 0
	for i < len(h.md.Buckets) && v > h.md.Buckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(v)
}

func (h *Histogram) meta() *Metadata { return &h.md }

func (h *Histogram) value() Value {
	hv := &HistogramValue{Counts: make([]uint64, len(h.counts)), Sum: h.sum.Load()}
	for i := range h.counts {
		hv.Counts[i] = h.counts[i].Load()
	}
	return Value{Name: h.md.Name, Histogram: hv}
}
