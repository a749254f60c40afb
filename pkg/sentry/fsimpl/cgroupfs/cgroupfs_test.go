package cgroupfs_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/cgroupfs"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// taskCtx acts for a task, as the kernel's task context does.
type taskCtx struct {
	context.Context
	t *kernel.Task
}

func (c taskCtx) Task() *kernel.Task { return c.t }

// env is a kernel with a tmpfs root and the cgroup2 type mounted
// read-only at /cg, and three tasks: init (PID 1, with a second thread,
// TID 3) and a child (PID 2).
type env struct {
	t     *testing.T
	k     *kernel.Kernel
	vfs   *vfs.VirtualFilesystem
	ft    *cgroupfs.FilesystemType
	ctx   context.Context
	creds *auth.Credentials
	root  vfs.VirtualDentry
	init  *kernel.Task
}

func newEnv(t *testing.T, lim cgroupfs.Limits) *env {
	t.Helper()
	v := vfs.New()
	k := kernel.NewKernel(nil, nil)
	k.VFS = v
	mf, err := pgalloc.New(pgalloc.Options{MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mf.Destroy)
	k.MemoryFile = mf
	ft := &cgroupfs.FilesystemType{Kernel: k, Limits: lim}
	for _, typ := range []vfs.FilesystemType{tmpfs.FilesystemType{}, ft} {
		if err := v.RegisterFilesystemType(typ, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: true}); err != nil {
			t.Fatal(err)
		}
	}
	creds := auth.NewRootCredentials(auth.NewRootUserNamespace())
	ctx := auth.ContextWithCredentials(context.Background(), creds)
	mntns, err := v.NewMountNamespace(ctx, creds, "", tmpfs.Name, &vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, k: k, vfs: v, ft: ft, ctx: ctx, creds: creds, root: mntns.Root()}
	for _, d := range []string{"/cg", "/rw"} {
		if err := v.MkdirAt(ctx, creds, e.pop(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.MountAt(ctx, creds, "none", e.pop("/cg"), cgroupfs.Name, &vfs.MountOptions{Flags: linux.MS_RDONLY}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.MountAt(ctx, creds, "none", e.pop("/rw"), cgroupfs.Name, &vfs.MountOptions{GetFilesystemOptions: vfs.GetFilesystemOptions{Data: "nsdelegate"}}); err != nil {
		t.Fatal(err)
	}
	e.init, err = kernel.NewProcTestTask(k, kernel.ProcTestTaskOptions{Creds: creds, FDTable: vfs.NewFDTable()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kernel.NewProcTestTask(k, kernel.ProcTestTaskOptions{Parent: e.init, Creds: creds, FDTable: vfs.NewFDTable()}); err != nil {
		t.Fatal(err)
	}
	if _, err := kernel.NewProcTestTask(k, kernel.ProcTestTaskOptions{ThreadOf: e.init}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) pop(p string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: e.root, Start: e.root, Path: p, FollowFinalSymlink: true}
}

func (e *env) open(ctx context.Context, p string, flags uint32) (*vfs.FileDescription, error) {
	return e.vfs.OpenAt(ctx, e.creds, e.pop(p), &vfs.OpenOptions{Flags: flags})
}

// read reads p in small pieces, so that reads continue in the text the
// first one generated.
func (e *env) read(ctx context.Context, p string) string {
	e.t.Helper()
	fd, err := e.open(ctx, p, linux.O_RDONLY)
	if err != nil {
		e.t.Fatalf("open %s: %v", p, err)
	}
	defer fd.DecRef(ctx)
	var out []byte
	buf := make([]byte, 5)
	for {
		n, err := fd.Read(ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{})
		if err != nil {
			e.t.Fatalf("read %s: %v", p, err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

func (e *env) list(p string) []string {
	e.t.Helper()
	fd, err := e.open(e.ctx, p, linux.O_RDONLY|linux.O_DIRECTORY)
	if err != nil {
		e.t.Fatalf("open %s: %v", p, err)
	}
	defer fd.DecRef(e.ctx)
	var names []string
	if err := fd.IterDirents(e.ctx, func(d vfs.Dirent) error {
		names = append(names, d.Name)
		return nil
	}); err != nil {
		e.t.Fatalf("getdents %s: %v", p, err)
	}
	return names
}

func TestDefaults(t *testing.T) {
	e := newEnv(t, cgroupfs.Limits{})
	for file, want := range map[string]string{
		"cgroup.controllers":     "cpu memory pids\n",
		"cgroup.subtree_control": "\n",
		"cgroup.type":            "domain\n",
		"cgroup.events":          "populated 1\nfrozen 0\n",
		"memory.max":             "max\n",
		"memory.swap.max":        "max\n",
		"cpu.max":                "max 100000\n",
		"cpu.weight":             "100\n",
		"pids.max":               "max\n",
	} {
		if got := e.read(e.ctx, "/cg/"+file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

func TestLimits(t *testing.T) {
	e := newEnv(t, cgroupfs.Limits{
		MemoryMax:     cgroupfs.Limited(256 << 20),
		MemorySwapMax: cgroupfs.Limited(0),
		CPUQuota:      cgroupfs.Limited(50000),
		CPUPeriod:     200000,
		CPUWeight:     39,
		PidsMax:       cgroupfs.Limited(64),
	})
	for file, want := range map[string]string{
		"memory.max":      "268435456\n",
		"memory.swap.max": "0\n",
		"cpu.max":         "50000 200000\n",
		"cpu.weight":      "39\n",
		"pids.max":        "64\n",
	} {
		if got := e.read(e.ctx, "/cg/"+file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

func TestUsage(t *testing.T) {
	e := newEnv(t, cgroupfs.Limits{})
	if got := e.read(e.ctx, "/cg/pids.current"); got != "3\n" {
		t.Errorf("pids.current = %q, want 3", got)
	}
	if got, want := e.read(e.ctx, "/cg/memory.current"), strconv.FormatUint(e.k.MemoryFile.Allocated(), 10)+"\n"; got != want {
		t.Errorf("memory.current = %q, want %q", got, want)
	}
	stat := e.read(e.ctx, "/cg/cpu.stat")
	var keys []string
	for _, l := range strings.Split(strings.TrimSuffix(stat, "\n"), "\n") {
		k, v, ok := strings.Cut(l, " ")
		if _, err := strconv.ParseUint(v, 10, 64); !ok || err != nil {
			t.Errorf("cpu.stat line %q", l)
		}
		keys = append(keys, k)
	}
	want := []string{"usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled", "throttled_usec", "nr_bursts", "burst_usec"}
	if !slices.Equal(keys, want) {
		t.Errorf("cpu.stat keys %q, want %q", keys, want)
	}
}

func TestProcs(t *testing.T) {
	e := newEnv(t, cgroupfs.Limits{})
	// Read on no task's behalf (the root PID namespace) and by init.
	for _, ctx := range []context.Context{e.ctx, taskCtx{e.ctx, e.init}} {
		if got := e.read(ctx, "/cg/cgroup.procs"); got != "1\n2\n" {
			t.Errorf("cgroup.procs = %q, want 1 and 2", got)
		}
		if got := e.read(ctx, "/cg/cgroup.threads"); got != "1\n2\n3\n" {
			t.Errorf("cgroup.threads = %q, want 1, 2 and 3", got)
		}
	}
}

func TestTree(t *testing.T) {
	e := newEnv(t, cgroupfs.Limits{})
	names := e.list("/cg")
	for _, want := range []string{".", "..", "cgroup.controllers", "cgroup.procs", "cgroup.threads", "cpu.max", "cpu.stat", "cpu.weight",
		"memory.current", "memory.max", "memory.swap.max", "pids.current", "pids.max"} {
		if !slices.Contains(names, want) {
			t.Errorf("listing lacks %s: %q", want, names)
		}
	}
	st, err := e.vfs.StatAt(e.ctx, e.creds, e.pop("/cg/memory.max"), vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if err != nil || st.Mode != linux.S_IFREG|0o444 || st.Size != 0 || st.UID != 0 {
		t.Errorf("memory.max: mode %#o size %d uid %d, %v", st.Mode, st.Size, st.UID, err)
	}
	sfs, err := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/cg"))
	if err != nil || sfs.Type != linux.CGROUP2_SUPER_MAGIC {
		t.Errorf("statfs: %#x %v", sfs.Type, err)
	}
	// One hierarchy: both mounts show the same instance.
	a, _ := e.vfs.StatAt(e.ctx, e.creds, e.pop("/cg/cpu.max"), vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	b, _ := e.vfs.StatAt(e.ctx, e.creds, e.pop("/rw/cpu.max"), vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if a.Ino != b.Ino || a.DevMinor != b.DevMinor {
		t.Errorf("the two mounts differ: ino %d/%d dev %d/%d", a.Ino, b.Ino, a.DevMinor, b.DevMinor)
	}
	if _, err := e.vfs.MountAt(e.ctx, e.creds, "none", e.pop("/rw"), cgroupfs.Name, &vfs.MountOptions{GetFilesystemOptions: vfs.GetFilesystemOptions{Data: "bogus"}}); !errors.Is(err, linux.EINVAL) {
		t.Errorf("mount with an unknown option: %v, want EINVAL", err)
	}
}

func TestReadOnly(t *testing.T) {
	e := newEnv(t, cgroupfs.Limits{})
	// The read-only mount: the VFS refuses first.
	_, err := e.open(e.ctx, "/cg/cgroup.procs", linux.O_WRONLY)
	wantErr(t, "write-open on the read-only mount", err, linux.EROFS)
	wantErr(t, "mkdir on the read-only mount", e.vfs.MkdirAt(e.ctx, e.creds, e.pop("/cg/child"), 0o755), linux.EROFS)
	// A writable mount: the filesystem itself refuses.
	for _, f := range []string{"cgroup.procs", "memory.max"} {
		_, err = e.open(e.ctx, "/rw/"+f, linux.O_WRONLY)
		wantErr(t, "write-open of "+f, err, linux.EACCES)
	}
	wantErr(t, "mkdir", e.vfs.MkdirAt(e.ctx, e.creds, e.pop("/rw/child"), 0o755), linux.EPERM)
	_, err = e.open(e.ctx, "/rw/new", linux.O_CREAT|linux.O_WRONLY)
	wantErr(t, "create", err, linux.EPERM)
	wantErr(t, "unlink", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/rw/cpu.max")), linux.EPERM)
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}
