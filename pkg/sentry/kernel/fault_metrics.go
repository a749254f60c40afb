package kernel

import (
	"time"

	"appkernel.dev/appkernel/pkg/metric"
)

// Page faults the Sentry resolved (or turned into a signal) for the
// application, and how long each took. A fault already costs a trip
// through the platform (microseconds), so timing it is cheap in
// comparison.
var (
	pageFaults = metric.NewCounter("appkernel_page_faults_total",
		"Page faults of application code that reached the Sentry.", metric.UnitNone, "")
	pageFaultLatency = metric.NewHistogram("appkernel_page_fault_seconds",
		"Time the Sentry took to handle one application page fault.", metric.UnitNanoseconds,
		metric.ExponentialBuckets(1000, 4, 10)...) // 1 µs to 262 ms
)

// faultStart is when handling a fault began.
func faultStart() time.Time { return time.Now() }

// recordFault counts a fault whose handling started at start; handleFault
// defers it.
func recordFault(start time.Time) {
	pageFaults.Inc()
	pageFaultLatency.Observe(int64(time.Since(start)))
}
