package main

import (
	"embed"
	"io/fs"
)

// workloadFiles holds the C sources, embedded so that the harness builds
// them from any working directory and with -trimpath.
//
//go:embed workloads/*.c workloads/*.h
var workloadFiles embed.FS

// workloadSources is the workloads/ directory itself.
func workloadSources() fs.FS {
	sub, err := fs.Sub(workloadFiles, "workloads")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}

// trueProgram is the static do-nothing binary that fork_exec_wait execs
// and that do_true launches.
const trueProgram = "true"

// spawnProgram is the launcher every measured command starts through, so
// that its wall time and peak RSS are its own (see workloads/spawn.c).
const spawnProgram = "spawn"

// workload is one row of the table (plus its peak-RSS row).
type workload struct {
	// id names the C file, the RESULT line and what -only matches.
	id    string
	title string
	unit  string
	// nsPerUnit converts the measured nanoseconds to unit.
	nsPerUnit float64
	// target is the sandbox's goal, for information only.
	target string
	// launch marks a workload the harness times per whole launch of the
	// true program instead of by a RESULT line.
	launch bool
	// args are the arguments after the iteration count.
	args func(e *env) []string
	// needsTrue says the workload execs the true program.
	needsTrue bool
}

// env is what workload arguments may refer to.
type env struct {
	// scratch is a host directory a workload may write in.
	scratch string
	// trueBin is the absolute path of the built true program.
	trueBin string
	// spawn is the absolute path of the built launcher.
	spawn string
}

func noArgs(*env) []string { return nil }

// rssTarget is the goal for a sandbox's peak RSS. The issue says MB; it is
// read as MiB, the unit ru_maxrss converts to without rounding.
const rssTarget = "<= 20 MiB"

var workloads = []workload{
	{id: "getpid", title: "getpid", unit: "ns/call", nsPerUnit: 1, target: "<= 1.5 us", args: noArgs},
	{id: "open_read_close", title: "open+read+close", unit: "us/iter", nsPerUnit: 1e3, target: "<= 10 us",
		args: func(e *env) []string { return []string{e.scratch} }},
	{id: "fork_exec_wait", title: "fork+exec+wait", unit: "ms/iter", nsPerUnit: 1e6, target: "<= 4 ms", needsTrue: true,
		args: func(e *env) []string { return []string{e.trueBin} }},
	{id: "pipe_pingpong", title: "pipe round trip", unit: "us/rt", nsPerUnit: 1e3, target: "<= 25 us", args: noArgs},
	// Over 127.0.0.1 inside one sandbox: the sandbox's own loopback with
	// the default --network. The targets are issue 6's as time ratios: a
	// request rate of at least 60% of native, a throughput of at least 50%.
	{id: "tcp_rr", title: "TCP_RR (loopback)", unit: "us/rt", nsPerUnit: 1e3, target: "ratio <= 1.67", args: noArgs},
	{id: "tcp_stream", title: "TCP stream (loopback, 1 MiB)", unit: "us/MiB", nsPerUnit: 1e3, target: "ratio <= 2", args: noArgs},
	// Natively this is the exec of the program; in the sandbox it is the
	// whole `runsc do`, start-up and tear-down of a sandbox included.
	{id: "do_true", title: "runsc do true", unit: "ms/run", nsPerUnit: 1e6, target: "<= 150 ms", launch: true, needsTrue: true},
}
