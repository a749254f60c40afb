package vfs_test

import (
	"bytes"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/state"
)

// dnOwner records the signals F_NOTIFY sends. It is savable by hand so
// that a restored file keeps one.
type dnOwner struct {
	name string
	mu   sync.Mutex
	got  []linux.SignalInfo
}

func init() { state.Register[dnOwner]() }

func (o *dnOwner) SendFileSignal(info *linux.SignalInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, *info)
}

func (o *dnOwner) Named() bool { return true }

func (o *dnOwner) StateTypeName() string   { return "vfs_test.dnOwner" }
func (o *dnOwner) StateFields() []string   { return []string{"name"} }
func (o *dnOwner) StateSave(s *state.Sink) { s.Begin(o); s.String(o.name) }
func (o *dnOwner) StateLoad(s *state.Source) {
	s.Begin(o)
	o.name = s.String()
}

// take returns and forgets the signals received.
func (o *dnOwner) take() []linux.SignalInfo {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.got
	o.got = nil
	return got
}

// dnDir opens path and installs it in tab, returning the descriptor.
func dnDir(t *testing.T, e *env, tab *vfs.FDTable, path string) (*vfs.FileDescription, int32) {
	t.Helper()
	f, err := e.open(e.creds, path, linux.O_RDONLY|linux.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := tab.NewFD(e.ctx, 0, f, vfs.FDFlags{})
	if err != nil {
		t.Fatal(err)
	}
	f.DecRef(e.ctx)
	return f, n
}

func wantSignals(t *testing.T, what string, o *dnOwner, n int, fd int32) {
	t.Helper()
	got := o.take()
	if len(got) != n {
		t.Fatalf("%s: %d signals %+v, want %d", what, len(got), got, n)
	}
	for _, si := range got {
		if si.Signo != int32(linux.SIGRTMIN) || si.Code != linux.POLL_MSG || si.FD() != fd {
			t.Fatalf("%s: signal %+v, want signal %d, POLL_MSG, fd %d", what, si, linux.SIGRTMIN, fd)
		}
	}
}

func TestDnotify(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/d", 0755)
	e.mkdir("/other", 0755)
	tab := vfs.NewFDTable()
	defer tab.DecRef(e.ctx)
	f, n := dnDir(t, e, tab, "/d")
	o := &dnOwner{name: "o"}
	f.SetAsyncSignal(linux.SIGRTMIN)

	// One-shot.
	if err := f.SetDirNotify(tab, n, linux.DN_CREATE, o); err != nil {
		t.Fatal(err)
	}
	if f.Owner() != o {
		t.Fatalf("F_NOTIFY did not set the owner")
	}
	e.writeFile("/d/a", "", 0644)
	wantSignals(t, "first create", o, 1, n)
	e.writeFile("/d/b", "", 0644)
	wantSignals(t, "second create, one-shot", o, 0, n)

	// Masks accumulate; the owner set stays.
	other := &dnOwner{name: "other"}
	f.SetDirNotify(tab, n, linux.DN_RENAME|linux.DN_MULTISHOT, other)
	f.SetDirNotify(tab, n, linux.DN_DELETE, other)
	if f.Owner() != o {
		t.Fatalf("a second F_NOTIFY replaced the owner")
	}
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/d/a"), e.pop("/d/c"), 0); err != nil {
		t.Fatal(err)
	}
	wantSignals(t, "rename within (DN_RENAME, DN_DELETE)", o, 2, n)
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/d/c"), e.pop("/other/c"), 0); err != nil {
		t.Fatal(err)
	}
	wantSignals(t, "rename out (DN_DELETE)", o, 1, n)
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/other/c"), e.pop("/d/c"), 0); err != nil {
		t.Fatal(err)
	}
	wantSignals(t, "rename in (no DN_CREATE asked)", o, 0, n)

	// No events: removed.
	f.SetDirNotify(tab, n, linux.DN_MULTISHOT, o)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/c")); err != nil {
		t.Fatal(err)
	}
	wantSignals(t, "after removal", o, 0, n)

	// Closing another descriptor of the file in the table removes it;
	// a close in another table does not.
	f.SetDirNotify(tab, n, linux.DN_CREATE|linux.DN_MULTISHOT, o)
	forked := tab.Fork()
	forked.DecRef(e.ctx)
	e.writeFile("/d/e", "", 0644)
	wantSignals(t, "after another table closed", o, 1, n)
	dup, err := tab.Dup(e.ctx, n, 0, vfs.FDFlags{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Close(e.ctx, dup); err != nil {
		t.Fatal(err)
	}
	e.writeFile("/d/g", "", 0644)
	wantSignals(t, "after closing a dup", o, 0, n)

	// Not a directory.
	e.writeFile("/file", "", 0644)
	rf, err := e.open(e.creds, "/file", linux.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.DecRef(e.ctx)
	if err := rf.SetDirNotify(tab, 99, linux.DN_CREATE, o); err != linux.ENOTDIR {
		t.Fatalf("F_NOTIFY on a file: %v, want ENOTDIR", err)
	}
	if err := rf.SetDirNotify(tab, 99, 0, o); err != nil {
		t.Fatalf("removal on a file: %v", err)
	}
}

// A registration survives a checkpoint with its file and table.
func TestDnotifySaveRestore(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/d", 0755)
	tab := vfs.NewFDTable()
	defer tab.DecRef(e.ctx)
	f, n := dnDir(t, e, tab, "/d")
	f.SetAsyncSignal(linux.SIGRTMIN)
	if err := f.SetDirNotify(tab, n, linux.DN_ATTRIB|linux.DN_MULTISHOT, &dnOwner{name: "saved"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := state.Save(&buf, tab); err != nil {
		t.Fatalf("save: %v", err)
	}
	restored := &vfs.FDTable{}
	if err := state.Load(bytes.NewReader(buf.Bytes()), restored); err != nil {
		t.Fatalf("load: %v", err)
	}
	rf, _ := restored.Get(n)
	if rf == nil {
		t.Fatal("descriptor missing after restore")
	}
	o, ok := rf.Owner().(*dnOwner)
	if !ok || o.name != "saved" {
		t.Fatalf("restored owner %#v", rf.Owner())
	}
	chmod := func() {
		if err := rf.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0700}); err != nil {
			t.Fatal(err)
		}
	}
	chmod()
	wantSignals(t, "chmod of the restored directory", o, 1, n)
	if err := restored.Close(e.ctx, n); err != nil {
		t.Fatal(err)
	}
	chmod()
	wantSignals(t, "after close", o, 0, n)
	rf.DecRef(e.ctx)
}
