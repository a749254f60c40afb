package e2e

import (
	"crypto/md5"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Real servers and their clients, both inside one sandbox, talking over
// 127.0.0.1 in each network mode: the sandbox's own stack (sandbox and
// none, where only lo exists) and host sockets (host). Each case is one
// shell script run by `runsc do`: it starts the server in the
// background, waits until it answers, runs the client, stops the server
// and prints what the test checks.

// networkModes are runsc's --network values; in each, 127.0.0.1 inside
// the sandbox must reach a server in the same sandbox.
var networkModes = []string{"sandbox", "none", "host"}

// needPrograms skips the test when a program it runs is not installed
// (tools/install-deps.sh installs them all).
func needPrograms(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (tools/install-deps.sh installs it): %v", n, err)
		}
	}
}

// serverScript is the shell script around one server and its client.
// The readiness probe runs every 0.1 s until it succeeds, for up to 60 s
// (ptrace and a loaded machine start python slowly); a server that dies
// first fails the script with its log.
const serverScript = `
dir=%[1]s
%[2]s >"$dir/server.log" 2>&1 &
srv=$!
i=0
until %[3]s; do
	if ! kill -0 $srv 2>/dev/null; then
		echo "server exited before it answered:"; cat "$dir/server.log"; exit 90
	fi
	i=$((i+1))
	if [ $i -ge 600 ]; then
		echo "server did not answer in 60 s:"; cat "$dir/server.log"; kill -9 $srv; exit 91
	fi
	sleep 0.1
done
%[4]s
rc=$?
kill $srv
wait $srv
echo "client-exit=$rc"
exit $rc
`

// runServer writes the script for a server command, a readiness probe
// and a client command into dir and runs it in a sandbox with network
// mode mode, returning its output. It fails the test when the script
// fails.
func runServer(t *testing.T, mode, dir, server, probe, client string) string {
	t.Helper()
	script := filepath.Join(dir, "run.sh")
	body := fmt.Sprintf(serverScript, dir, server, probe, client)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runsc(t, "--network="+mode, "do", "/bin/sh", script)
	if r.code != 0 || !strings.Contains(r.stdout, "client-exit=0\n") {
		t.Fatalf("runsc --network=%s do: exit %d\nstdout:\n%s\nstderr:\n%s", mode, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// freePort returns a TCP port nothing on the host listens on: with
// --network=host the sandbox's sockets are the host's.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, _ := strings.Cut(freeAddr(t), ":")
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServerPythonHTTP(t *testing.T) {
	needPrograms(t, "python3", "curl")
	for _, mode := range networkModes {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			want := fmt.Sprintf("served from the sandbox over %s networking\n", mode)
			if err := os.WriteFile(filepath.Join(dir, "page.txt"), []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			port := freePort(t)
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			out := runServer(t, mode, dir,
				fmt.Sprintf("python3 -m http.server %d --bind 127.0.0.1 --directory %s", port, dir),
				"curl -sf -o /dev/null "+url,
				// The body, then the directory listing.
				fmt.Sprintf("curl -sSf %spage.txt && curl -sSf %s | grep -c 'href=\"page.txt\"'", url, url))
			if want := want + "1\nclient-exit=0\n"; out != want {
				t.Errorf("curl output %q, want %q", out, want)
			}
		})
	}
}

// requestsCompleted matches redis-benchmark's summary of one test.
var requestsCompleted = regexp.MustCompile(`====== (\S+) ======\n\s+(\d+) requests completed in`)

func TestServerRedis(t *testing.T) {
	needPrograms(t, "redis-server", "redis-cli", "redis-benchmark")
	const n = 20000
	for _, mode := range networkModes {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cli := fmt.Sprintf("redis-cli -p %d", port)
			out := runServer(t, mode, dir,
				fmt.Sprintf("redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --dir %s", port, dir),
				cli+" ping | grep -q PONG",
				// Without -r, SET stores a 3-byte value (-d's default)
				// under the literal key key:__rand_int__ and INCR
				// counts under counter:__rand_int__; the client reads
				// both back afterwards.
				fmt.Sprintf("redis-benchmark -p %d -n %d -t set,get,incr,lpush --precision 1 && %s strlen key:__rand_int__ && %s get counter:__rand_int__", port, n, cli, cli))
			got := map[string]string{}
			for _, m := range requestsCompleted.FindAllStringSubmatch(out, -1) {
				got[m[1]] = m[2]
			}
			for _, test := range []string{"SET", "GET", "INCR", "LPUSH"} {
				if got[test] != strconv.Itoa(n) {
					t.Errorf("redis-benchmark %s: %q requests completed, want %d", test, got[test], n)
				}
			}
			// The INCR test counts every one of its requests.
			if !strings.HasSuffix(out, fmt.Sprintf("\n3\n%d\nclient-exit=0\n", n)) {
				t.Errorf("redis-cli did not read back what the benchmark stored; output ends:\n%s", tail(out, 300))
			}
			if t.Failed() {
				t.Logf("output:\n%s", tail(out, 4000))
			}
		})
	}
}

// nginxConf is a configuration for an unprivileged-looking nginx that
// keeps everything in one directory: no daemon, no master, one worker,
// the pid file, logs and temporary files under dir.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	server {
		listen 127.0.0.1:%[2]d;
		root %[1]s/www;
	}
}
`

// wrkSummary matches wrk's totals line.
var wrkSummary = regexp.MustCompile(`(?m)^\s+(\d+) requests in [0-9.]+\w+, [0-9.]+\w+ read$`)

func TestServerNginxWrk(t *testing.T) {
	needPrograms(t, "nginx", "wrk", "curl")
	for _, mode := range networkModes {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			www := filepath.Join(dir, "www")
			if err := os.Mkdir(www, 0o755); err != nil {
				t.Fatal(err)
			}
			// 16 KiB: more than one segment's worth, so responses
			// take several writes and reads.
			page := strings.Repeat(fmt.Sprintf("nginx in the sandbox, %s network\n", mode), 512)
			if err := os.WriteFile(filepath.Join(www, "static.txt"), []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}
			port := freePort(t)
			conf := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, port)), 0o644); err != nil {
				t.Fatal(err)
			}
			url := fmt.Sprintf("http://127.0.0.1:%d/static.txt", port)
			out := runServer(t, mode, dir,
				fmt.Sprintf("nginx -p %s -c %s -e %s/error.log", dir, conf, dir),
				"curl -sf -o /dev/null "+url,
				fmt.Sprintf("curl -sSf %s | md5sum && wrk -t 1 -c 8 -d 3 %s", url, url))
			if want := fmt.Sprintf("%x", md5.Sum([]byte(page))); !strings.HasPrefix(out, want+"  -\n") {
				t.Errorf("curl body's md5 is not %s: output:\n%s", want, out)
			}
			m := wrkSummary.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no request count in wrk's output:\n%s", out)
			}
			if n, _ := strconv.Atoi(m[1]); n == 0 {
				t.Errorf("wrk completed no request:\n%s", out)
			}
			for _, bad := range []string{"Socket errors", "Non-2xx or 3xx responses"} {
				if strings.Contains(out, bad) {
					t.Errorf("wrk reports %s:\n%s", bad, out)
				}
			}
			if i := strings.Index(out, "Requests/sec"); i >= 0 {
				t.Logf("%s", strings.TrimSpace(out[i:]))
			}
		})
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
