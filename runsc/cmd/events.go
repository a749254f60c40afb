package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/pkg/metric"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/container"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// Events prints a container's resource usage as containerd's runtime
// events do.
type Events struct {
	stats    bool
	interval time.Duration
}

// Name implements subcommands.Command.
func (*Events) Name() string { return "events" }

// Synopsis implements subcommands.Command.
func (*Events) Synopsis() string { return "print a container's resource usage statistics" }

// Usage implements subcommands.Command.
func (*Events) Usage() string {
	return `events [--stats] [--interval DURATION] ID

Prints container ID's CPU, memory and task statistics, measured inside
its sandbox, as JSON objects of runc's events shape
({"type":"stats","id":ID,"data":{"cpu":...,"memory":...,"pids":...}}):
once with --stats, otherwise one line every --interval until the
container stops.
`
}

// SetFlags implements subcommands.Command.
func (e *Events) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&e.stats, "stats", false, "print the statistics once and exit")
	f.DurationVar(&e.interval, "interval", 5*time.Second, "time between statistics when streaming")
}

// Event is one line of runsc events.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *Stats `json:"data,omitempty"`
}

// Stats are the statistics of runc's events, those the sandbox measures.
type Stats struct {
	CPU    CPUStats    `json:"cpu"`
	Memory MemoryStats `json:"memory"`
	Pids   PidsStats   `json:"pids"`
}

// CPUStats is CPU time in nanoseconds.
type CPUStats struct {
	Usage struct {
		Total  uint64 `json:"total"`
		User   uint64 `json:"user"`
		Kernel uint64 `json:"kernel"`
	} `json:"usage"`
}

// MemoryStats is memory in bytes: usage is the application memory the
// sandbox holds (its memory file's allocated bytes).
type MemoryStats struct {
	Usage struct {
		Usage uint64 `json:"usage"`
	} `json:"usage"`
}

// PidsStats counts tasks, as the pids cgroup controller does.
type PidsStats struct {
	Current uint64 `json:"current"`
}

// Execute implements subcommands.Command.
func (e *Events) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	id, ok := oneID(f, "events")
	if !ok {
		return subcommands.ExitUsageError
	}
	if e.interval <= 0 {
		return usagef("events: --interval must be positive")
	}
	sock, err := sandboxSocket(conf, id)
	if err != nil {
		return failf("events: %v", err)
	}
	enc := json.NewEncoder(os.Stdout)
	for {
		st, err := readStats(sock)
		if err != nil {
			if !e.stats && errors.Is(err, sandbox.ErrNotRunning) {
				// The container stopped: the stream ends.
				return subcommands.ExitSuccess
			}
			return failf("events: %v", err)
		}
		if err := enc.Encode(Event{Type: "stats", ID: id, Data: st}); err != nil {
			return failf("events: %v", err)
		}
		if e.stats {
			return subcommands.ExitSuccess
		}
		time.Sleep(e.interval)
	}
}

// sandboxSocket returns the control socket of container id, which must
// be running (or created).
func sandboxSocket(conf *config.Config, id string) (string, error) {
	c, err := container.Load(conf.RootDir, id)
	if err != nil {
		return "", err
	}
	defer c.Unlock()
	if c.Status() == container.Stopped {
		return "", fmt.Errorf("container %s is not running", id)
	}
	return filepath.Join(conf.RootDir, id, sandbox.ControlSocket), nil
}

// readStats asks the sandbox at sock for its metrics and extracts the
// statistics.
func readStats(sock string) (*Stats, error) {
	var resp boot.MetricsResponse
	if err := sandbox.CallInto(sock, boot.ControlRequest{Cmd: boot.CtlMetrics}, &resp, sandbox.CallTimeout); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	if resp.Snapshot == nil {
		return nil, errors.New("the sandbox sent no metrics")
	}
	return statsFrom(resp.Snapshot), nil
}

// statsFrom picks the statistics out of a metrics snapshot. Missing or
// negative values read as zero.
func statsFrom(snap *metric.Snapshot) *Stats {
	get := func(name, label string) uint64 {
		for _, v := range snap.Metrics {
			if v.Name == name {
				return uint64(max(v.Values[label], 0))
			}
		}
		return 0
	}
	var s Stats
	s.CPU.Usage.User = get("appkernel_cpu_seconds_total", "user")
	s.CPU.Usage.Kernel = get("appkernel_cpu_seconds_total", "system")
	s.CPU.Usage.Total = s.CPU.Usage.User + s.CPU.Usage.Kernel
	s.Memory.Usage.Usage = get("appkernel_memory_file_bytes", "allocated")
	s.Pids.Current = get("appkernel_tasks", "")
	return &s
}
