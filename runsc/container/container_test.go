package container

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestProcessAlive(t *testing.T) {
	self, err := processOf(os.Getpid())
	if err != nil || !self.Alive() {
		t.Fatalf("this process: %+v, %v", self, err)
	}
	// Same pid, another start time: pid reuse, not our process.
	if (Process{PID: self.PID, StartTime: self.StartTime + 1}).Alive() {
		t.Errorf("a reused pid counts as alive")
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	p, err := processOf(cmd.Process.Pid)
	if err != nil || !p.Alive() {
		t.Fatalf("child: %+v %v", p, err)
	}
	cmd.Process.Kill()
	// A zombie has exited.
	for deadline := time.Now().Add(5 * time.Second); p.Alive(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("killed child still alive")
		}
	}
	cmd.Wait()
	if p.Alive() || (Process{}).Alive() {
		t.Errorf("a reaped or zero process counts as alive")
	}
}

func TestStateLoadAndLock(t *testing.T) {
	root := t.TempDir()
	if _, err := Load(root, "nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load of an unknown id = %v", err)
	}
	if _, err := Load(root, "../x"); err == nil || errors.Is(err, ErrNotExist) {
		t.Errorf("Load of a bad id = %v", err)
	}
	dir := filepath.Join(root, "c")
	os.Mkdir(dir, 0o700)
	st := State{ID: "c", Bundle: "/b", Status: Running, Created: time.Now().UTC()}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	c, err := Load(root, "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Bundle != "/b" || c.State.Status != Running {
		t.Errorf("loaded %+v", c.State)
	}
	// No sandbox process: stopped, whatever was recorded.
	if c.Status() != Stopped || c.OCIState().PID != 0 {
		t.Errorf("status %v / %+v, want stopped", c.Status(), c.OCIState())
	}

	// A second Load waits for the lock.
	got := make(chan error, 1)
	go func() {
		c2, err := Load(root, "c")
		if err == nil {
			c2.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second Load did not wait for the lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	// Deleting while it waits: it must see the container gone.
	if err := c.Delete(false); err != nil {
		t.Fatal(err)
	}
	c.Unlock()
	if err := <-got; !errors.Is(err, ErrNotExist) {
		t.Errorf("Load that waited on a deleted container = %v", err)
	}
	if ids, err := List(root); err != nil || len(ids) != 0 {
		t.Errorf("List after delete = %v, %v", ids, err)
	}
}

func TestIncompleteState(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "half"), 0o700)
	c, err := Load(root, "half")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status() != Stopped {
		t.Errorf("incomplete container status %v", c.Status())
	}
	if err := c.Delete(false); err != nil {
		t.Errorf("deleting an incomplete container: %v", err)
	}
	c.Unlock()
	if _, err := os.Stat(filepath.Join(root, "half")); !os.IsNotExist(err) {
		t.Errorf("incomplete state left: %v", err)
	}
	if ids, _ := List(filepath.Join(root, "missing")); ids != nil {
		t.Errorf("List of a missing root = %v", ids)
	}
}
