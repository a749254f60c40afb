package proc

import (
	"bytes"
	"context"
	"fmt"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// loadavg shows the kernel's 1, 5 and 15 minute load averages, the
// running and total task counts and the last PID allocated in the
// reader's namespace, in Linux's format. As Linux's loadavg_proc_show,
// the averages are rounded to hundredths by adding half of one before
// truncating.
func (fs *filesystem) loadavg(ctx context.Context, b *bytes.Buffer) error {
	loads := fs.k.LoadAverages()
	running := fs.k.RunnableTaskCount()
	if t := readerTask(ctx); t != nil && t.ProcID(fs.ns) != 0 {
		// The reader is running, whether or not its run loop is.
		running = max(running, 1)
	}
	for _, l := range loads {
		fmt.Fprintf(b, "%s ", formatLoad(l))
	}
	fmt.Fprintf(b, "%d/%d %d\n", running, fs.k.ProcTaskCount(fs.ns), fs.k.ProcLastPID(fs.ns))
	return nil
}

// formatLoad prints a fixed-point load as Linux's LOAD_INT.LOAD_FRAC.
func formatLoad(x uint64) string {
	const one = 1 << kernel.LoadFShift
	x += one / 200
	return fmt.Sprintf("%d.%02d", x>>kernel.LoadFShift, ((x&(one-1))*100)>>kernel.LoadFShift)
}
