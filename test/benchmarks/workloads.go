package main

import (
	"embed"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os/exec"
	"strconv"
	"time"
)

// workloadFiles holds the C sources, embedded so that the harness builds
// them from any working directory and with -trimpath.
//
//go:embed workloads/*.c workloads/*.h workloads/*.sh
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
	// script marks a workload that is a shell script, workloads/ID.sh,
	// run as `/bin/sh ID.sh ARGS...`: a real server and its client in
	// one place (natively, or together in one sandbox). The client fixes
	// its own amount of work (a duration or a request count, from args),
	// so each run is measured as it comes, without probing for an
	// iteration count.
	script bool
	// needs are the programs a script runs; without any of them the
	// workload is skipped with a note, not failed.
	needs []string
}

// missing returns the first program w needs that is not installed, or "".
func (w *workload) missing() string {
	for _, p := range w.needs {
		if _, err := exec.LookPath(p); err != nil {
			return p
		}
	}
	return ""
}

// env is what workload arguments may refer to.
type env struct {
	// scratch is a host directory a workload may write in.
	scratch string
	// trueBin is the absolute path of the built true program.
	trueBin string
	// spawn is the absolute path of the built launcher.
	spawn string
	// benchtime is -benchtime, which scripts scale their work by.
	benchtime time.Duration
}

// wrkSeconds is how long wrk runs: -benchtime in whole seconds, at
// least one (wrk's -d counts whole seconds).
func (e *env) wrkSeconds() string {
	return strconv.Itoa(max(1, int(math.Ceil(e.benchtime.Seconds()))))
}

// redisRequests is redis-benchmark's -n: about -benchtime's worth of
// natively measured requests of one command (~30000 a second on these
// machines), at least 1000 so the rate means something.
func (e *env) redisRequests() string {
	return strconv.Itoa(max(1000, int(30000*e.benchtime.Seconds())))
}

// freePort returns a loopback TCP port nothing listens on now, for a
// server script's listener: natively it shares the host's ports.
func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		// Without a loopback listener natively, the scripts cannot
		// run either; a fixed port makes them fail with a clear error.
		return "18080"
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
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
	{id: "tcp_connect", title: "TCP connect+accept+close (loopback)", unit: "us/conn", nsPerUnit: 1e3, target: "ratio <= 1.67", args: noArgs},
	// Real servers and clients over 127.0.0.1, both in one sandbox.
	{id: "nginx_wrk", title: "nginx 4 KiB file, wrk (loopback)", unit: "us/req", nsPerUnit: 1e3, target: "ratio <= 1.67",
		script: true, needs: []string{"nginx", "wrk", "curl"},
		args: func(e *env) []string { return []string{e.wrkSeconds(), freePort(), e.scratch} }},
	{id: "redis_bench", title: "redis-benchmark SET+GET (loopback)", unit: "us/op", nsPerUnit: 1e3, target: "ratio <= 1.67",
		script: true, needs: []string{"redis-server", "redis-benchmark", "redis-cli"},
		args: func(e *env) []string { return []string{e.redisRequests(), freePort(), e.scratch} }},
	// Natively this is the exec of the program; in the sandbox it is the
	// whole `runsc do`, start-up and tear-down of a sandbox included.
	{id: "do_true", title: "runsc do true", unit: "ms/run", nsPerUnit: 1e6, target: "<= 150 ms", launch: true, needsTrue: true},
}
