// Package config holds runsc's global flags: the settings every subcommand
// shares, parsed once before the subcommand runs.
package config

import (
	"flag"
	"fmt"
	"strings"
)

// Platform names the way the Sentry runs application code.
type Platform string

// The platforms runsc knows.
const (
	PlatformSystrap Platform = "systrap"
	PlatformPtrace  Platform = "ptrace"
)

// Network names how the sandbox reaches a network.
type Network string

// The network modes runsc knows.
const (
	NetworkSandbox Network = "sandbox"
	NetworkHost    Network = "host"
	NetworkNone    Network = "none"
)

// LogFormat names how runsc writes its own log.
type LogFormat string

// The log formats runsc knows. Engines that pass --log read JSON.
const (
	LogFormatText LogFormat = "text"
	LogFormatJSON LogFormat = "json"
)

// Config is the parsed set of global flags.
type Config struct {
	// RootDir holds the state of every container runsc manages.
	RootDir string
	// LogFilename is where runsc's own log goes, besides stderr.
	LogFilename string
	LogFormat   LogFormat
	Debug       bool
	// DebugLog is a directory or file pattern for the Sentry's and gofer's
	// debug logs.
	DebugLog string
	Platform Platform
	Network  Network
	Strace   bool
	// SyscallPatch lets systrap rewrite application system call sites
	// (docs/platforms.md).
	SyscallPatch  bool
	IgnoreCgroups bool
	SystemdCgroup bool
	Rootless      bool
	// MetricsServer is the address `runsc create` makes sure a metric
	// server for RootDir listens on (runsc metric-server); empty for none.
	MetricsServer string
}

// DefaultRootDir is used when --root is not given, as Podman relies on.
const DefaultRootDir = "/var/run/runsc"

// RegisterFlags adds the global flags to fs, storing into c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.RootDir, "root", DefaultRootDir, "root directory for the state of containers")
	fs.StringVar(&c.LogFilename, "log", "", "file to write runsc's log to, in addition to stderr")
	fs.Var(enumValue{(*string)(&c.LogFormat), []string{string(LogFormatText), string(LogFormatJSON)}}, "log-format", "log format: text or json")
	fs.BoolVar(&c.Debug, "debug", false, "enable debug logging")
	fs.StringVar(&c.DebugLog, "debug-log", "", "directory or file pattern for the sandbox's debug logs")
	fs.Var(enumValue{(*string)(&c.Platform), []string{string(PlatformSystrap), string(PlatformPtrace)}}, "platform", "how the sandbox runs application code: systrap or ptrace")
	fs.Var(enumValue{(*string)(&c.Network), []string{string(NetworkSandbox), string(NetworkHost), string(NetworkNone)}}, "network", "network mode: sandbox, host or none")
	fs.BoolVar(&c.Strace, "strace", false, "log every application syscall in strace's format")
	fs.BoolVar(&c.SyscallPatch, "syscall-patch", true, "let systrap rewrite hot system call instructions in application code to enter the sandbox kernel without a trap")
	fs.BoolVar(&c.IgnoreCgroups, "ignore-cgroups", false, "do not apply the bundle's cgroup resources")
	fs.BoolVar(&c.SystemdCgroup, "systemd-cgroup", false, "manage cgroups through systemd")
	fs.BoolVar(&c.Rootless, "rootless", false, "run without root on the host")
	fs.StringVar(&c.MetricsServer, "metrics-server", "", "address (host:port) of the Prometheus metric server for --root; create starts one there if none listens")
	c.LogFormat = LogFormatText
	c.Platform = PlatformSystrap
	c.Network = NetworkSandbox
}

// enumValue is a flag.Value that accepts one of a fixed set of words, so a
// typo fails at parse time instead of deep inside a subcommand.
type enumValue struct {
	target  *string
	allowed []string
}

func (e enumValue) String() string {
	if e.target == nil {
		return ""
	}
	return *e.target
}

func (e enumValue) Set(v string) error {
	for _, a := range e.allowed {
		if v == a {
			*e.target = v
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(e.allowed, ", "))
}
