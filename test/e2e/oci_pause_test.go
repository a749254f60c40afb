package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOCIPauseResume(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done")
	e.create("pz", b)
	if r := e.runsc("pause", "pz"); r.code == 0 {
		t.Errorf("pause of a created container succeeded")
	}
	e.must("start", "pz")
	count := filepath.Join(b, "rootfs", "tmp", "count")
	waitFor(t, "the counter", func() bool { _, err := os.Stat(count); return err == nil })

	e.must("pause", "pz")
	e.wantStatus("pz", "paused")
	if r := e.runsc("pause", "pz"); r.code == 0 {
		t.Errorf("pause of a paused container succeeded")
	}
	if r := e.runsc("exec", "pz", "/bin/true"); r.code == 0 {
		t.Errorf("exec into a paused container succeeded")
	}
	if r := e.runsc("delete", "pz"); r.code == 0 {
		t.Errorf("delete of a paused container without --force succeeded")
	}
	time.Sleep(100 * time.Millisecond)
	before := readFile(t, count)
	time.Sleep(500 * time.Millisecond)
	if after := readFile(t, count); after != before {
		t.Errorf("the counter moved while paused: %q -> %q", before, after)
	}

	e.must("resume", "pz")
	e.wantStatus("pz", "running")
	waitFor(t, "the counter to move after resume", func() bool { return readFile(t, count) != before })
	if r := e.runsc("resume", "pz"); r.code == 0 {
		t.Errorf("resume of a running container succeeded")
	}

	// SIGKILL ends a paused container.
	e.must("pause", "pz")
	e.must("kill", "pz", "KILL")
	waitFor(t, "the paused container to die of SIGKILL", func() bool { return e.state("pz").Status == "stopped" })
	e.must("delete", "pz")
	e.stateDirGone("pz")
}
