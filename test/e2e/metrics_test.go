package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// createWith is e.create with extra global flags.
func (e *ociEnv) createWith(flags []string, id, bundle string) *created {
	e.t.Helper()
	dir := e.t.TempDir()
	c := &created{id: id, bundle: bundle, stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr")}
	pidFile := filepath.Join(dir, "pid")
	out, _ := os.Create(c.stdout)
	defer out.Close()
	errf, _ := os.Create(c.stderr)
	defer errf.Close()
	args := append([]string{"--root", e.root, "--platform=ptrace"}, flags...)
	cmd := exec.Command(runscPath, append(args, "create", "--bundle", bundle, "--pid-file", pidFile, id)...)
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("runsc create %s: %v: %s", id, err, readFile(e.t, c.stderr))
	}
	e.trackProcs()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		e.t.Fatal(err)
	}
	if c.pid, err = strconv.Atoi(string(data)); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// serverIdentity asks the metric server at addr which root it serves.
func serverIdentity(addr string) (root string, pid int, err error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/runsc-metric-server")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var id struct {
		Root string `json:"root"`
		PID  int    `json:"pid"`
	}
	err = json.NewDecoder(resp.Body).Decode(&id)
	return id.Root, id.PID, err
}

// scrapeText GETs url and returns the status and body.
func scrapeText(t *testing.T, u string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var upRE = regexp.MustCompile(`(?m)^appkernel_sandbox_up\{container="([^"]+)",sandbox="([^"]+)"\} 1$`)

// sandboxesServed lists the sandboxes a scrape reports up.
func sandboxesServed(body string) []string {
	var ids []string
	for _, m := range upRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[2])
	}
	return ids
}

// metricValue returns the value of the series whose line starts with
// prefix (name and labels), or -1.
func metricValue(body, prefix string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// exitedWithin waits for pid, a child of this (subreaper) process, to
// exit within d.
func exitedWithin(pid int, d time.Duration) (syscall.WaitStatus, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if got == pid && err == nil {
			return ws, true
		}
		if err != nil && err != syscall.EINTR {
			// Not our child: it can only be watched.
			if syscall.Kill(pid, 0) == syscall.ESRCH {
				return 0, true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, false
}

// killServer kills and reaps the metric server pid, our child (as
// subreaper) until reaped: while unreaped, the pid cannot be reused.
func killServer(pid int, reaped *bool) {
	if *reaped {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	reap(pid)
}

func TestMetricServer(t *testing.T) {
	e := newOCIEnv(t)
	addr := freeAddr(t)
	flags := []string{"--metrics-server=" + addr}
	b := e.bundle("/bin/sh", "-c", "while :; do ls / > /dev/null; sleep 0.1; done")

	c1 := e.createWith(flags, "one", b)
	root, pid, err := serverIdentity(addr)
	if err != nil {
		t.Fatalf("no metric server at %s after create: %v", addr, err)
	}
	reaped := false
	t.Cleanup(func() { killServer(pid, &reaped) })
	if canon, _ := filepath.EvalSymlinks(e.root); root != canon {
		t.Errorf("server at %s serves root %q, want %q", addr, root, canon)
	}
	e.must("start", "one")

	// A second container under the same root uses the same server.
	c2 := e.createWith(flags, "two", b)
	e.must("start", "two")
	if _, pid2, err := serverIdentity(addr); err != nil || pid2 != pid {
		t.Errorf("after a second create: server pid %d (%v), want the first one, %d", pid2, err, pid)
	}

	// A sandbox under another root is not served, even by name.
	other := newOCIEnv(t)
	other.create("stranger", other.bundle("/bin/sh", "-c", "sleep 1000"))

	metricsURL := "http://" + addr + "/metrics"
	var body string
	waitFor(t, "both sandboxes' syscalls", func() bool {
		_, body = scrapeText(t, metricsURL)
		return metricValue(body, `appkernel_syscalls_total{syscall="execve",container="one",sandbox="one"}`) > 0 &&
			metricValue(body, `appkernel_syscalls_total{syscall="execve",container="two",sandbox="two"}`) > 0
	})
	if got := sandboxesServed(body); strings.Join(got, ",") != "one,two" {
		t.Errorf("sandboxes served: %v, want [one two]", got)
	}
	for _, want := range []string{
		`appkernel_tasks{container="one",sandbox="one"}`,
		`appkernel_open_fds{container="one",sandbox="one"}`,
		`appkernel_page_faults_total{container="one",sandbox="one"}`,
		`appkernel_cpu_seconds_total{mode="user",container="one",sandbox="one"}`,
		`appkernel_memory_file_bytes{kind="allocated",container="one",sandbox="one"}`,
	} {
		if v := metricValue(body, want); v <= 0 {
			t.Errorf("%s = %v, want > 0", want, v)
		}
	}
	if strings.Contains(body, "stranger") {
		t.Errorf("the scrape shows a sandbox of another root")
	}
	if code, _ := scrapeText(t, metricsURL+"?sandbox=stranger"); code != http.StatusNotFound {
		t.Errorf("?sandbox=stranger: status %d, want 404", code)
	}
	rel, _ := filepath.Rel(e.root, filepath.Join(other.root, "stranger"))
	if code, _ := scrapeText(t, metricsURL+"?sandbox="+url.QueryEscape(rel)); code != http.StatusNotFound {
		t.Errorf("?sandbox=%s: status %d, want 404", rel, code)
	}
	if code, body := scrapeText(t, metricsURL+"?sandbox=two"); code != 200 || strings.Join(sandboxesServed(body), ",") != "two" {
		t.Errorf("?sandbox=two: %d, serving %v", code, sandboxesServed(body))
	}
	other.must("delete", "--force", "stranger")

	// A sandbox dying under it does not take the server down.
	syscall.Kill(c1.pid, syscall.SIGKILL)
	waitFor(t, "the killed sandbox to leave the scrape", func() bool {
		code, body := scrapeText(t, metricsURL)
		return code == 200 && strings.Join(sandboxesServed(body), ",") == "two"
	})

	// The last one going ends it.
	e.must("delete", "--force", "one")
	e.must("delete", "--force", "two")
	_ = c2
	ws, ok := exitedWithin(pid, 10*time.Second)
	reaped = ok
	if !ok {
		ents, _ := os.ReadDir(e.root)
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		t.Fatalf("metric server still running 10 s after its last sandbox went; root holds %v; %s", ents, st)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("metric server ended with %v, want exit 0", ws)
	}
}

// startServer runs `runsc metric-server` for root with extra flags and
// waits until it answers.
func startServer(t *testing.T, root, addr string, flags ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(runscPath, append([]string{"--root", root, "metric-server", "--addr", addr}, flags...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "the metric server", func() bool { _, _, err := serverIdentity(addr); return err == nil })
	return cmd
}

func TestMetricServerPersistence(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	// With no sandbox ever, a server exits after its start grace...
	addr := freeAddr(t)
	cmd := startServer(t, root, addr, "--start-grace=500ms", "--poll-interval=100ms")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("metric server: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("metric server without sandboxes still running after 10 s")
	}
	// ...unless it is persistent.
	addr = freeAddr(t)
	cmd = startServer(t, root, addr, "--start-grace=500ms", "--poll-interval=100ms", "--persistent")
	time.Sleep(2 * time.Second)
	if _, _, err := serverIdentity(addr); err != nil {
		t.Errorf("persistent metric server gone: %v", err)
	}
	// And one already listening makes another for the same address fail.
	second := exec.Command(runscPath, "--root", root, "metric-server", "--addr", addr)
	if out, err := second.CombinedOutput(); err == nil {
		t.Errorf("a second server on a taken address succeeded: %s", out)
	}
}

// TestPrometheusScrape has a real Prometheus scrape the metric server.
func TestPrometheusScrape(t *testing.T) {
	e := newOCIEnv(t)
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		install := exec.Command("apt-get", "install", "-y", "--no-install-recommends", "prometheus")
		install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := install.CombinedOutput(); err != nil {
			t.Skipf("prometheus not installed and apt-get install prometheus failed: %v\n%s", err, out)
		}
		if prom, err = exec.LookPath("prometheus"); err != nil {
			t.Skipf("prometheus not found after installing it: %v", err)
		}
	}
	addr := freeAddr(t)
	c := e.createWith([]string{"--metrics-server=" + addr}, "scraped", e.bundle("/bin/sh", "-c", "while :; do sleep 0.1; done"))
	_ = c
	_, pid, err := serverIdentity(addr)
	if err != nil {
		t.Fatalf("no metric server: %v", err)
	}
	reaped := false
	t.Cleanup(func() { killServer(pid, &reaped) })
	e.must("start", "scraped")

	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: runsc
    static_configs:
      - targets: ['%s']
`, addr)), 0o644)
	promAddr := freeAddr(t)
	p := exec.Command(prom, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	defer logf.Close()
	p.Stdout, p.Stderr = logf, logf
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { p.Process.Kill(); p.Wait() }()

	query := "http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(`appkernel_syscalls_total{sandbox="scraped",syscall="clock_nanosleep"}`)
	var last string
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get(query)
		if err != nil {
			continue
		}
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(data)
		if json.Unmarshal(data, &r) != nil || r.Status != "success" || len(r.Data.Result) != 1 {
			continue
		}
		m := r.Data.Result[0].Metric
		if m["job"] != "runsc" || m["container"] != "scraped" {
			t.Fatalf("series labels %v", m)
		}
		if v, _ := strconv.ParseFloat(fmt.Sprint(r.Data.Result[0].Value[1]), 64); v > 0 {
			e.must("delete", "--force", "scraped")
			return
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
	t.Fatalf("Prometheus never stored the sandbox's syscall count; last answer %s\nlog:\n%s", last, log)
}
