package cmd

import (
	"context"
	"flag"
	"time"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/metricserver"
)

// MetricServer serves the Prometheus metrics of every sandbox under
// --root.
type MetricServer struct {
	addr       string
	persistent bool
	grace      time.Duration
	poll       time.Duration
}

// Name implements subcommands.Command.
func (*MetricServer) Name() string { return "metric-server" }

// Synopsis implements subcommands.Command.
func (*MetricServer) Synopsis() string {
	return "serve the Prometheus metrics of every sandbox under --root"
}

// Usage implements subcommands.Command.
func (*MetricServer) Usage() string {
	return `metric-server [--addr HOST:PORT] [--persistent]

Serves /metrics in the Prometheus text format for every running sandbox
under --root, labelled by sandbox and container id (/metrics?sandbox=ID
for one). The address defaults to the global --metrics-server. Without
--persistent the server exits once no sandbox is left under the root
(or when none appeared within --start-grace). runsc create starts one
by itself when --metrics-server is given and nothing listens there.
`
}

// SetFlags implements subcommands.Command.
func (m *MetricServer) SetFlags(f *flag.FlagSet) {
	f.StringVar(&m.addr, "addr", "", "address to listen on (default: --metrics-server)")
	f.BoolVar(&m.persistent, "persistent", false, "keep running when no sandbox is left")
	f.DurationVar(&m.grace, "start-grace", 30*time.Second, "how long to wait for a first sandbox before exiting")
	f.DurationVar(&m.poll, "poll-interval", time.Second, "how often to look for sandboxes under --root")
}

// Execute implements subcommands.Command.
func (m *MetricServer) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if f.NArg() != 0 {
		return usagef("metric-server: takes no arguments")
	}
	addr := m.addr
	if addr == "" {
		addr = conf.MetricsServer
	}
	if addr == "" {
		return usagef("metric-server: no address: give --addr or the global --metrics-server")
	}
	s, err := metricserver.New(metricserver.Options{
		Root:         conf.RootDir,
		Addr:         addr,
		Persistent:   m.persistent,
		StartGrace:   m.grace,
		PollInterval: m.poll,
	})
	if err != nil {
		return failf("metric-server: %v", err)
	}
	if err := s.Run(); err != nil {
		return failf("metric-server: %v", err)
	}
	return subcommands.ExitSuccess
}

// ensureMetricServer starts a metric server for conf's root when
// --metrics-server asks for one and none listens there yet. A failure is
// logged, not fatal: the container runs either way.
func ensureMetricServer(conf *config.Config) {
	if conf.MetricsServer == "" {
		return
	}
	var global []string
	if conf.DebugLog != "" {
		global = append(global, "--debug-log="+conf.DebugLog, "--debug")
	}
	if err := metricserver.EnsureRunning(metricserver.Spawn{Root: conf.RootDir, Addr: conf.MetricsServer, GlobalArgs: global}); err != nil {
		log.Warningf("metrics server: %v", err)
	}
}
