package boot

import (
	"encoding/json"
	"net"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/metric"
)

// Metric commands. Their answer is a MetricsResponse, not a
// ControlResponse.
const (
	// CtlMetricMetadata answers the metadata of every registered metric.
	// A relay asks once per sandbox and trusts only what matches the
	// metadata registered in its own process (see runsc/metricserver).
	CtlMetricMetadata = "metric-metadata"
	// CtlMetrics answers every metric's current value.
	CtlMetrics = "metrics"
)

// MetricsResponse answers CtlMetricMetadata and CtlMetrics.
type MetricsResponse struct {
	Error    string            `json:"error,omitempty"`
	Metadata []metric.Metadata `json:"metadata,omitempty"`
	Snapshot *metric.Snapshot  `json:"snapshot,omitempty"`
}

// sampleMu serialises sampling and reading the registry, so concurrent
// scrapes do not interleave a half-updated set of sampled values.
var sampleMu sync.Mutex

// serveMetrics answers a metric command on conn.
func (c *controlServer) serveMetrics(conn *net.UnixConn, cmd string) {
	var resp MetricsResponse
	switch cmd {
	case CtlMetricMetadata:
		resp.Metadata = metric.Default.Metadata()
	case CtlMetrics:
		sampleMu.Lock()
		c.s.k.SampleMetrics()
		snap := metric.Default.Snapshot()
		sampleMu.Unlock()
		resp.Snapshot = &snap
	}
	replyJSON(conn, resp)
}

// replyJSON writes one JSON answer of any shape.
func replyJSON(conn *net.UnixConn, v any) {
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := json.NewEncoder(conn).Encode(v); err != nil {
		log.Debugf("control: replying: %v", err)
	}
}
