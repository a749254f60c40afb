package metricserver

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/metric"
)

// schema is the metadata the server trusts, by metric name.
type schema map[string]*schemaEntry

type schemaEntry struct {
	md     metric.Metadata
	labels map[string]bool
}

// newSchema builds the trusted schema from metadata registered in the
// server's own process. The server runs the same runsc binary as the
// sandboxes it follows, whose registrations all happen at package
// initialisation, so this is exactly what every sandbox registered
// before its application ran, and no sandbox can add to it.
func newSchema(mds []metric.Metadata) schema {
	s := make(schema, len(mds))
	for _, md := range mds {
		e := &schemaEntry{md: md, labels: make(map[string]bool, len(md.LabelValues))}
		for _, v := range md.LabelValues {
			e.labels[v] = true
		}
		s[md.Name] = e
	}
	return s
}

// agree returns the part of s that a sandbox's reported metadata
// describes identically, and a note for each reported metric left out. A
// sandbox from another runsc version may differ; only what both sides
// registered the same way is relayed.
func (s schema) agree(reported []metric.Metadata) (schema, []string) {
	out := make(schema)
	var notes []string
	for i := range reported {
		r := &reported[i]
		e, ok := s[r.Name]
		switch {
		case !ok:
			notes = append(notes, fmt.Sprintf("unregistered metric %q", r.Name))
		case !e.md.Equal(r):
			notes = append(notes, fmt.Sprintf("metric %q registered differently", r.Name))
		case out[r.Name] != nil:
			notes = append(notes, fmt.Sprintf("metric %q reported twice", r.Name))
		default:
			out[r.Name] = e
		}
	}
	return out, notes
}

// point is one verified value of a counter or gauge.
type point struct {
	label string
	value int64
}

// family is one metric's verified values.
type family struct {
	md     *metric.Metadata
	points []point
	hist   *metric.HistogramValue
}

// verifier checks one sandbox's snapshots against the schema it agreed
// on, remembering counters between scrapes so that none goes backwards.
type verifier struct {
	schema schema
	// last holds each counter series' and histogram's last accepted
	// value, keyed by name and label.
	last map[string]int64
}

func newVerifier(s schema) *verifier {
	return &verifier{schema: s, last: make(map[string]int64)}
}

// verify returns the values of snap that fit the schema, in snap's order,
// and how many values it dropped: values of unknown metrics or label
// values, negative values (every metric counts, sizes or times), counters
// that went backwards, and malformed histograms.
func (v *verifier) verify(snap *metric.Snapshot) ([]family, int) {
	var fams []family
	dropped := 0
	seen := make(map[string]bool, len(snap.Metrics))
	for i := range snap.Metrics {
		mv := &snap.Metrics[i]
		e, ok := v.schema[mv.Name]
		if !ok || seen[mv.Name] {
			dropped += max(1, len(mv.Values))
			continue
		}
		seen[mv.Name] = true
		f := family{md: &e.md}
		if e.md.Type == metric.TypeHistogram {
			if !v.histogramOK(e, mv) {
				dropped++
				continue
			}
			f.hist = mv.Histogram
			fams = append(fams, f)
			continue
		}
		if mv.Histogram != nil {
			dropped += max(1, len(mv.Values))
			continue
		}
		for label, val := range mv.Values {
			if !v.pointOK(e, label, val) {
				dropped++
				continue
			}
			f.points = append(f.points, point{label, val})
		}
		fams = append(fams, f)
	}
	return fams, dropped
}

func (v *verifier) pointOK(e *schemaEntry, label string, val int64) bool {
	if e.md.Label == "" {
		if label != "" {
			return false
		}
	} else if !e.labels[label] {
		return false
	}
	if val < 0 {
		return false
	}
	if e.md.Type == metric.TypeCounter {
		key := e.md.Name + "\x00" + label
		if val < v.last[key] {
			return false
		}
		v.last[key] = val
	}
	return true
}

func (v *verifier) histogramOK(e *schemaEntry, mv *metric.Value) bool {
	h := mv.Histogram
	if h == nil || len(mv.Values) != 0 || len(h.Counts) != len(e.md.Buckets)+1 || h.Sum < 0 {
		return false
	}
	var total uint64
	for _, c := range h.Counts {
		if total+c < total {
			return false
		}
		total += c
	}
	if int64(total) < 0 {
		return false
	}
	key := e.md.Name + "\x00count"
	if int64(total) < v.last[key] {
		return false
	}
	v.last[key] = int64(total)
	return true
}
