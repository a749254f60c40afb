// Package metricserver is `runsc metric-server`: a long-lived HTTP server
// that serves /metrics in the Prometheus text format for every running
// sandbox under one runsc --root.
//
// The Sentry does not serve metrics itself (it is untrusted and has no
// network poller); the server asks each sandbox over its control socket.
// It trusts no sandbox: the only metrics, label values and buckets it
// relays are those registered in its own process at start-up (the same
// runsc binary registers the same metrics before any sandbox runs
// application code), and each value is checked against them. It trusts
// no client either: it serves one root, chosen when it starts, and checks
// every sandbox it is asked about is a running container under it.
package metricserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/metric"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// Options configure a server.
type Options struct {
	// Root is the runsc --root whose sandboxes are served.
	Root string
	// Addr is the TCP address to listen on (host:port).
	Addr string
	// Persistent keeps the server running with no sandbox left.
	Persistent bool
	// PollInterval is how often the server looks for sandboxes (0: 1s).
	PollInterval time.Duration
	// StartGrace is how long a new server waits for its first sandbox
	// before it exits for want of any (0: 30s).
	StartGrace time.Duration
	// ScrapeTimeout bounds one sandbox's answer (0: 2s).
	ScrapeTimeout time.Duration
	// Schema is the trusted metadata; nil means metric.Default's, which
	// must be frozen.
	Schema []metric.Metadata
}

// IdentityPath answers, as JSON, which root the server serves: how
// `runsc create` tells our server at an address from anything else
// listening there.
const IdentityPath = "/runsc-metric-server"

// Identity is what IdentityPath answers.
type Identity struct {
	Root string `json:"root"`
	PID  int    `json:"pid"`
}

// Server relays the metrics of the sandboxes under one root.
type Server struct {
	opts   Options
	root   string
	schema schema

	// seen is set once any sandbox was found under the root: from then
	// on, none left means the server's work is done.
	seen atomic.Bool

	// mu guards followed.
	mu sync.Mutex
	// followed holds per sandbox process (target.key) what the server
	// keeps between scrapes.
	followed map[string]*follower
}

// follower is the server's state for one sandbox process.
type follower struct {
	// mu serialises scrapes of the sandbox and guards v and dropped.
	mu sync.Mutex
	// v is nil until the sandbox's metadata was fetched.
	v       *verifier
	dropped int64
}

// New checks opts and returns a server; Run serves.
func New(opts Options) (*Server, error) {
	root, err := canonicalRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.StartGrace <= 0 {
		opts.StartGrace = 30 * time.Second
	}
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 2 * time.Second
	}
	mds := opts.Schema
	if mds == nil {
		if !metric.Default.Frozen() {
			return nil, errors.New("metric server: the metric registry is not frozen")
		}
		mds = metric.Default.Metadata()
	}
	return &Server{opts: opts, root: root, schema: newSchema(mds), followed: make(map[string]*follower)}, nil
}

// Root is the canonical root the server serves.
func (s *Server) Root() string { return s.root }

// Handler serves the server's HTTP endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", s.serveMetrics)
	mux.HandleFunc(IdentityPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Identity{Root: s.root, PID: os.Getpid()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "runsc metric server for %s\n/metrics: every sandbox; /metrics?sandbox=ID: one\n", s.root)
	})
	return mux
}

// serveMetrics answers one scrape.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var targets []target
	if ids, ok := r.URL.Query()["sandbox"]; ok {
		for _, id := range ids {
			t, err := lookup(s.root, id)
			if err != nil {
				log.Infof("metric server: refusing sandbox %q: %v", id, err)
				http.Error(w, fmt.Sprintf("no running sandbox %q under %s", id, s.root), http.StatusNotFound)
				return
			}
			targets = append(targets, t)
		}
	} else {
		var err error
		if targets, err = discover(s.root); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if len(targets) > 0 {
		s.seen.Store(true)
	}
	results := make([]sandboxResult, len(targets))
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.scrape(&targets[i])
		}()
	}
	wg.Wait()
	var buf bytes.Buffer
	if err := encode(&buf, results); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(exposition))
	w.Write(buf.Bytes())
}

// scrape asks one sandbox for its metrics and verifies them.
func (s *Server) scrape(t *target) sandboxResult {
	s.mu.Lock()
	f := s.followed[t.key()]
	if f == nil {
		f = &follower{}
		s.followed[t.key()] = f
	}
	s.mu.Unlock()

	f.mu.Lock()
	defer f.mu.Unlock()
	res := sandboxResult{id: t.ID}
	if f.v == nil {
		var resp boot.MetricsResponse
		if err := sandbox.CallInto(t.Socket, boot.ControlRequest{Cmd: boot.CtlMetricMetadata}, &resp, s.opts.ScrapeTimeout); err != nil || resp.Error != "" {
			log.Infof("metric server: metadata of %s: %v %s", t.ID, err, resp.Error)
			res.dropped = f.dropped
			return res
		}
		agreed, notes := s.schema.agree(resp.Metadata)
		for _, n := range notes {
			log.Warningf("metric server: sandbox %s: ignoring %s", t.ID, n)
		}
		f.v = newVerifier(agreed)
	}
	var resp boot.MetricsResponse
	err := sandbox.CallInto(t.Socket, boot.ControlRequest{Cmd: boot.CtlMetrics}, &resp, s.opts.ScrapeTimeout)
	if err != nil || resp.Error != "" || resp.Snapshot == nil {
		log.Infof("metric server: metrics of %s: %v %s", t.ID, err, resp.Error)
		res.dropped = f.dropped
		return res
	}
	fams, dropped := f.v.verify(resp.Snapshot)
	f.dropped += int64(dropped)
	res.up, res.families, res.dropped = true, fams, f.dropped
	return res
}

// forget drops the state of sandbox processes no longer running.
func (s *Server) forget(running []target) {
	keep := make(map[string]bool, len(running))
	for i := range running {
		keep[running[i].key()] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.followed {
		if !keep[k] {
			delete(s.followed, k)
		}
	}
}

// Run listens on opts.Addr and serves until no sandbox is left under the
// root (unless Persistent): after the last one goes, or when none came
// within StartGrace of the start.
func (s *Server) Run() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("metric server: %w", err)
	}
	return s.Serve(ln)
}

// Serve is Run on a listener the caller made; it closes ln.
func (s *Server) Serve(ln net.Listener) error {
	addr := ln.Addr().String()
	start := time.Now()
	for {
		srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		log.Infof("metric server: serving %s on %s", s.root, addr)
		serveErr := s.waitIdle(start, served)
		// Stop taking connections, then look once more: a `runsc
		// create` that saw us listening had already made its sandbox
		// (it checks after creating), so that sandbox shows up now if
		// it is to show up at all, and we go back to serving it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(ctx)
		cancel()
		if serveErr == nil {
			serveErr = <-served
		}
		if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			return fmt.Errorf("metric server: %w", serveErr)
		}
		if targets, _ := discover(s.root); len(targets) == 0 {
			log.Infof("metric server: no sandbox left under %s; exiting", s.root)
			return nil
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			// Another server took the address meanwhile; it serves.
			log.Infof("metric server: %s taken over (%v); exiting", addr, err)
			return nil
		}
	}
}

// waitIdle polls the root until the server should stop: no sandbox left
// after one was seen, or none within StartGrace; never if Persistent. It
// returns early with the HTTP server's error if that stopped by itself.
func (s *Server) waitIdle(start time.Time, served <-chan error) error {
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case err := <-served:
				if err == nil {
					err = http.ErrServerClosed
				}
				return err
			case <-tick.C:
			}
		}
		targets, err := discover(s.root)
		if err != nil {
			log.Warningf("metric server: listing %s: %v", s.root, err)
			continue
		}
		s.forget(targets)
		if len(targets) > 0 {
			s.seen.Store(true)
			continue
		}
		if !s.opts.Persistent && (s.seen.Load() || time.Since(start) > s.opts.StartGrace) {
			return nil
		}
	}
}
