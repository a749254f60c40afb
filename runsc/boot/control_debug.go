package boot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/pprof"
	"time"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// CtlDebug inspects or adjusts the running Sentry (runsc debug): one
// action of ControlRequest.Debug per request. The answer is a
// DebugResponse.
const CtlDebug = "debug"

// Debug actions.
const (
	// DebugStacks answers every Sentry goroutine's stack.
	DebugStacks = "stacks"
	// DebugPS answers the sandbox's processes.
	DebugPS = "ps"
	// DebugLogLevel sets the Sentry's log level (Value: warning, info or
	// debug) on every log output it has.
	DebugLogLevel = "log-level"
	// DebugStrace turns syscall logging in strace's format on or off
	// (Value: on or off). Turning it on raises the log level to info
	// where it was lower, since that is the level strace lines use.
	DebugStrace = "strace"
	// DebugProfile answers a pprof profile (Value: cpu, heap, block or
	// mutex) taken over Duration (heap: at once).
	DebugProfile = "profile"
	// DebugCompat answers the compatibility report so far: what the
	// container's programs used that the sandbox does not fully support.
	DebugCompat = "compat"
	// DebugCompatAtExit answers the compatibility report once the
	// container has exited, with its wait status. runsc compat asks for
	// it before starting the container; the sandbox answers it before it
	// exits, as it does CtlWait.
	DebugCompatAtExit = "compat-at-exit"
)

// CompatReport is the answer to DebugCompat and DebugCompatAtExit.
type CompatReport struct {
	Records []kernel.CompatRecord `json:"records"`
	// Dropped counts distinct records left out for want of room.
	Dropped uint64 `json:"dropped,omitempty"`
	// Exited is set for DebugCompatAtExit, with the container's wait
	// status.
	Exited     bool   `json:"exited,omitempty"`
	WaitStatus uint32 `json:"waitStatus,omitempty"`
}

// DebugRequest is one debug action.
type DebugRequest struct {
	Action   string        `json:"action"`
	Value    string        `json:"value,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
}

// DebugProcess is one process of the sandbox, for DebugPS.
type DebugProcess struct {
	PID     int32  `json:"pid"`
	PPID    int32  `json:"ppid"`
	Comm    string `json:"comm"`
	State   string `json:"state"`
	Threads int    `json:"threads"`
	UID     uint32 `json:"uid"`
	// CPUTime is user plus system time.
	CPUTime time.Duration `json:"cpuTime"`
}

// DebugResponse answers CtlDebug.
type DebugResponse struct {
	Error     string         `json:"error,omitempty"`
	Stacks    string         `json:"stacks,omitempty"`
	Processes []DebugProcess `json:"processes,omitempty"`
	Compat    *CompatReport  `json:"compat,omitempty"`
	// Profile is the pprof profile: legacy text for heap, block and
	// mutex; gzipped protobuf for cpu. `go tool pprof RUNSC FILE` reads
	// either.
	Profile []byte `json:"profile,omitempty"`
}

// maxProfileDuration bounds how long one request may hold a profiler.
const maxProfileDuration = 10 * time.Minute

// serveDebug answers a debug request on conn.
func (c *controlServer) serveDebug(conn *net.UnixConn, req *DebugRequest) {
	if req != nil && req.Action == DebugCompatAtExit {
		// An empty answer first: the caller starts the container only
		// once it has it, so this request is in hand before the
		// container can exit and the socket close.
		replyJSON(conn, DebugResponse{})
	}
	var resp DebugResponse
	if err := c.debug(req, &resp); err != nil {
		resp.Error = err.Error()
	}
	replyJSON(conn, resp)
}

func (c *controlServer) debug(req *DebugRequest, resp *DebugResponse) error {
	if req == nil {
		return errors.New("debug: no action")
	}
	switch req.Action {
	case DebugStacks:
		resp.Stacks = allStacks()
	case DebugPS:
		resp.Processes = c.s.debugProcesses()
	case DebugLogLevel:
		l, ok := log.ParseLevel(req.Value)
		if !ok {
			return fmt.Errorf("unknown log level %q (want warning, info or debug)", req.Value)
		}
		log.SetLevel(l)
		log.Infof("debug: log level set to %s", l)
	case DebugStrace:
		switch req.Value {
		case "on":
			if !log.IsLogging(log.Info) {
				log.SetLevel(log.Info)
			}
			c.s.k.SetStrace(true)
		case "off":
			c.s.k.SetStrace(false)
		default:
			return fmt.Errorf("strace %q: want on or off", req.Value)
		}
		log.Infof("debug: strace %s", req.Value)
	case DebugProfile:
		if req.Duration < 0 || req.Duration > maxProfileDuration {
			return fmt.Errorf("profile duration %v out of range (0 to %v)", req.Duration, maxProfileDuration)
		}
		p, err := c.profile(req.Value, req.Duration)
		if err != nil {
			return err
		}
		resp.Profile = p
	case DebugCompat:
		resp.Compat = c.compatReport()
	case DebugCompatAtExit:
		<-c.exited
		resp.Compat = c.compatReport()
		resp.Compat.Exited = true
		resp.Compat.WaitStatus = uint32(c.status)
	default:
		return fmt.Errorf("unknown debug action %q", req.Action)
	}
	return nil
}

func (c *controlServer) compatReport() *CompatReport {
	recs, dropped := c.s.k.CompatReport()
	return &CompatReport{Records: recs, Dropped: dropped}
}

// allStacks dumps every goroutine's stack.
func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// legacyText asks runtime/pprof for the legacy text format, which `go
// tool pprof` reads too (with the runsc binary, for symbols). The protobuf
// format would open /proc/self/maps and the executable to describe the
// mappings: host paths the Sentry's seccomp filter rightly refuses, at
// the cost of the whole sandbox.
const legacyText = 1

// writeHeapProfile writes the heap profile in the legacy text format.
// runtime/pprof's own text heap profile is not used: it appends the
// process's MaxRSS, read with getrusage(2), which the Sentry's seccomp
// filter does not allow.
func writeHeapProfile(w io.Writer) {
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	var total runtime.MemProfileRecord
	for i := range recs {
		total.AllocBytes += recs[i].AllocBytes
		total.AllocObjects += recs[i].AllocObjects
		total.FreeBytes += recs[i].FreeBytes
		total.FreeObjects += recs[i].FreeObjects
	}
	// The header's sampling period is twice the rate, as the format has
	// always said it.
	fmt.Fprintf(w, "heap profile: %d: %d [%d: %d] @ heap/%d\n",
		total.InUseObjects(), total.InUseBytes(), total.AllocObjects, total.AllocBytes, 2*runtime.MemProfileRate)
	for i := range recs {
		r := &recs[i]
		fmt.Fprintf(w, "%d: %d [%d: %d] @", r.InUseObjects(), r.InUseBytes(), r.AllocObjects, r.AllocBytes)
		for _, pc := range r.Stack() {
			fmt.Fprintf(w, " %#x", pc)
		}
		fmt.Fprintln(w)
	}
}

// profile takes one pprof profile.
func (c *controlServer) profile(kind string, d time.Duration) ([]byte, error) {
	var buf bytes.Buffer
	switch kind {
	case "heap":
		writeHeapProfile(&buf)
	case "cpu":
		// The Go CPU profiler needs setitimer and timer_* calls, which the
		// Sentry's seccomp allow-list has only with filter.Options.Debug,
		// and runtime/pprof opens /proc/self/maps, which it never allows.
		// Profiling even before the filter is installed is no way around
		// it: the runtime disarms each thread's timer lazily, after the
		// profile ends, and that call would kill the sandbox.
		if !profilerAllowed {
			return nil, errors.New("CPU profiling is not allowed by this sandbox's seccomp filter (it is installed without the profiler's timers)")
		}
		if err := pprof.StartCPUProfile(&buf); err != nil {
			return nil, err
		}
		time.Sleep(d)
		pprof.StopCPUProfile()
	case "block":
		runtime.SetBlockProfileRate(1)
		time.Sleep(d)
		err := pprof.Lookup("block").WriteTo(&buf, legacyText)
		runtime.SetBlockProfileRate(0)
		if err != nil {
			return nil, err
		}
	case "mutex":
		prev := runtime.SetMutexProfileFraction(1)
		time.Sleep(d)
		err := pprof.Lookup("mutex").WriteTo(&buf, legacyText)
		runtime.SetMutexProfileFraction(prev)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown profile %q (want cpu, heap, block or mutex)", kind)
	}
	return buf.Bytes(), nil
}

// profilerAllowed says whether the Sentry's seccomp filter lets the Go
// CPU profiler run. It does not: besides its timers, runtime/pprof reads
// /proc/self/maps by path, and the Sentry opens no host path.
var profilerAllowed = false

// debugProcesses lists the sandbox's processes, as its root PID
// namespace numbers them.
func (s *Sandbox) debugProcesses() []DebugProcess {
	ns := s.k.RootPIDNamespace()
	var out []DebugProcess
	for _, id := range s.k.ProcThreadGroupIDs(ns) {
		tg := s.k.ProcThreadGroup(ns, id)
		if tg == nil {
			continue
		}
		tids := tg.ProcTaskIDs(ns)
		if len(tids) == 0 {
			continue
		}
		t := tg.ProcTask(ns, tids[0])
		if t == nil {
			continue
		}
		st := t.ProcStatus(ns, nil)
		u := tg.CPUUsage()
		p := DebugProcess{
			PID:     int32(st.TGID),
			PPID:    int32(st.PPID),
			Comm:    st.Comm,
			State:   st.State.String(),
			Threads: st.Threads,
			CPUTime: u.User + u.System,
		}
		if st.Creds != nil {
			p.UID = uint32(st.Creds.EffectiveKUID)
		}
		out = append(out, p)
	}
	return out
}
