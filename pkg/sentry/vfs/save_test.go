package vfs_test

import (
	"bytes"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/state"
)

// A descriptor table with open tmpfs files, directories and device files,
// over a tree with a mount and a symlink, checkpoints and restores with
// its contents intact.
func TestSaveRestore(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/d", 0755)
	e.writeFile("/d/f", "saved data", 0640)
	e.symlink("d/f", "/link")
	e.mkdir("/dev", 0755)
	if _, err := e.vfs.MountAt(e.ctx, e.creds, "", e.pop("/dev"), "devtmpfs", &vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	tab := vfs.NewFDTable()
	for _, p := range []string{"/link", "/d", "/dev/null"} {
		fd, err := e.open(e.creds, p, linux.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		tab.NewFD(e.ctx, 0, fd, vfs.FDFlags{CloseOnExec: p == "/d"})
		fd.DecRef(e.ctx)
	}
	var buf bytes.Buffer
	if err := state.Save(&buf, tab); err != nil {
		t.Fatalf("save: %v", err)
	}
	restored := &vfs.FDTable{}
	if err := state.Load(bytes.NewReader(buf.Bytes()), restored); err != nil {
		t.Fatalf("load: %v", err)
	}
	f, flags := restored.Get(0)
	if f == nil {
		t.Fatal("fd 0 missing after restore")
	}
	defer f.DecRef(e.ctx)
	if got, err := readAll(e.ctx, f); got != "saved data" || err != nil {
		t.Errorf("restored file reads %q, %v", got, err)
	}
	if flags.CloseOnExec {
		t.Error("fd 0 gained FD_CLOEXEC")
	}
	if _, fl := restored.Get(1); !fl.CloseOnExec {
		t.Error("fd 1 lost FD_CLOEXEC")
	}
	d, _ := restored.Get(1)
	if n := names(t, e.ctx, d); len(n) != 3 || n[2] != "f" {
		t.Errorf("restored dir lists %v", n)
	}
	d.DecRef(e.ctx)
}
