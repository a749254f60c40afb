package metricserver

import (
	"io"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"appkernel.dev/appkernel/pkg/metric"
)

// exposition is the Prometheus text format, version 0.0.4.
var exposition = expfmt.NewFormat(expfmt.TypeTextPlain)

// sandboxResult is one sandbox's verified metrics for one scrape.
type sandboxResult struct {
	id string
	// up is false when the sandbox did not answer.
	up       bool
	families []family
	// dropped counts, since the server started following this sandbox
	// process, values it sent that did not fit the schema.
	dropped int64
}

// Metrics the server adds about each sandbox it follows.
const (
	upName      = "appkernel_sandbox_up"
	droppedName = "appkernel_sandbox_metrics_dropped_total"
)

// encode writes every result in the text exposition format, one family
// per metric name, with each sandbox's series labelled by its sandbox and
// container id.
func encode(w io.Writer, results []sandboxResult) error {
	byName := make(map[string]*dto.MetricFamily)
	family := func(name, help string, typ dto.MetricType) *dto.MetricFamily {
		mf := byName[name]
		if mf == nil {
			mf = &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: typ.Enum()}
			byName[name] = mf
		}
		return mf
	}
	for _, r := range results {
		ids := []*dto.LabelPair{
			{Name: proto.String("container"), Value: proto.String(r.id)},
			{Name: proto.String("sandbox"), Value: proto.String(r.id)},
		}
		up := 0.0
		if r.up {
			up = 1
		}
		family(upName, "Whether the sandbox answered the metric server (1) or not (0).", dto.MetricType_GAUGE).Metric =
			append(byName[upName].Metric, &dto.Metric{Label: ids, Gauge: &dto.Gauge{Value: proto.Float64(up)}})
		family(droppedName, "Values the sandbox reported that did not fit the metadata registered before it ran, dropped.", dto.MetricType_COUNTER).Metric =
			append(byName[droppedName].Metric, &dto.Metric{Label: ids, Counter: &dto.Counter{Value: proto.Float64(float64(r.dropped))}})
		for _, f := range r.families {
			md := f.md
			mf := family(md.Name, md.Help, dtoType(md.Type))
			div := divisorOf(md.Unit)
			if f.hist != nil {
				mf.Metric = append(mf.Metric, &dto.Metric{Label: ids, Histogram: histogram(md, f.hist, div)})
				continue
			}
			for _, p := range f.points {
				labels := ids
				if md.Label != "" {
					labels = append([]*dto.LabelPair{{Name: proto.String(md.Label), Value: proto.String(p.label)}}, ids...)
				}
				m := &dto.Metric{Label: labels}
				v := float64(p.value) / div
				if md.Type == metric.TypeCounter {
					m.Counter = &dto.Counter{Value: proto.Float64(v)}
				} else {
					m.Gauge = &dto.Gauge{Value: proto.Float64(v)}
				}
				mf.Metric = append(mf.Metric, m)
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	enc := expfmt.NewEncoder(w, exposition)
	for _, n := range names {
		mf := byName[n]
		if len(mf.Metric) == 0 {
			continue
		}
		sortMetrics(mf.Metric)
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

func dtoType(t metric.Type) dto.MetricType {
	switch t {
	case metric.TypeCounter:
		return dto.MetricType_COUNTER
	case metric.TypeHistogram:
		return dto.MetricType_HISTOGRAM
	default:
		return dto.MetricType_GAUGE
	}
}

// divisorOf converts a unit to Prometheus's base unit. (Dividing keeps
// round bounds round: 1000/1e9 is exactly 1e-06, 1000*1e-9 is not.)
func divisorOf(u metric.Unit) float64 {
	if u == metric.UnitNanoseconds {
		return 1e9
	}
	return 1
}

func histogram(md *metric.Metadata, hv *metric.HistogramValue, div float64) *dto.Histogram {
	h := &dto.Histogram{SampleSum: proto.Float64(float64(hv.Sum) / div)}
	var cum uint64
	for i, bound := range md.Buckets {
		cum += hv.Counts[i]
		h.Bucket = append(h.Bucket, &dto.Bucket{CumulativeCount: proto.Uint64(cum), UpperBound: proto.Float64(float64(bound) / div)})
	}
	cum += hv.Counts[len(md.Buckets)]
	h.SampleCount = proto.Uint64(cum)
	return h
}

// sortMetrics orders series by their labels, so output is stable.
func sortMetrics(ms []*dto.Metric) {
	key := func(m *dto.Metric) string {
		s := ""
		for _, l := range m.Label {
			s += l.GetName() + "=" + l.GetValue() + "\x00"
		}
		return s
	}
	sort.SliceStable(ms, func(i, j int) bool { return key(ms[i]) < key(ms[j]) })
}
