package proc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/pipe"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/proc"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/loader"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/mm/mmtest"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// taskCtx acts for a task, as the kernel's task context does.
type taskCtx struct {
	context.Context
	t *kernel.Task
}

func (c taskCtx) Task() *kernel.Task { return c.t }

// env is a kernel with a tmpfs root, /proc mounted, and tasks:
// init (PID 1, root, two threads: TIDs 1 and 3) and a child (PID 2,
// uid 1000).
type env struct {
	t       *testing.T
	k       *kernel.Kernel
	vfs     *vfs.VirtualFilesystem
	root    vfs.VirtualDentry
	rootCtx context.Context
	creds   *auth.Credentials
	init    *kernel.Task
	thread  *kernel.Task
	child   *kernel.Task
	initMM  *mm.MemoryManager
	argv    string
	envv    string
	pipeIno string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t}
	v := vfs.New()
	e.vfs = v
	k := kernel.NewKernel(nil, nil)
	k.VFS = v
	k.Host.Hostname = "sandbox-host"
	mf, err := pgalloc.New(pgalloc.Options{MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mf.Destroy)
	k.MemoryFile = mf
	e.k = k

	ft := proc.NewFilesystemType(k, proc.SystemInfo{
		CPUInfo: "processor\t: 0\n", NumCPUs: 2, MemTotal: 1 << 30,
		OSRelease: "6.1.0", KernelVersion: "#1 SMP", BootTime: time.Now().Add(-time.Minute),
	})
	for _, ft := range []vfs.FilesystemType{tmpfs.FilesystemType{}, ft} {
		if err := v.RegisterFilesystemType(ft, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: true}); err != nil {
			t.Fatal(err)
		}
	}
	e.creds = auth.NewRootCredentials(auth.NewRootUserNamespace())
	e.rootCtx = auth.ContextWithCredentials(context.Background(), e.creds)
	mntns, err := v.NewMountNamespace(e.rootCtx, e.creds, "", tmpfs.Name, &vfs.MountOptions{GetFilesystemOptions: vfs.GetFilesystemOptions{Data: "mode=0755"}})
	if err != nil {
		t.Fatal(err)
	}
	ft.MountNamespace = mntns
	e.root = mntns.Root()
	for _, d := range []string{"proc", "tmp"} {
		if err := v.MkdirAt(e.rootCtx, e.creds, e.pop(d), 0755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.MountAt(e.rootCtx, e.creds, "proc", e.pop("/proc"), proc.Name, &vfs.MountOptions{Flags: linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC}); err != nil {
		t.Fatal(err)
	}

	// init's address space holds its argv and envp strings.
	e.argv, e.envv = "prog\x00-v\x00", "HOME=/\x00"
	m, err := mm.New(mf, (&mmtest.Factory{}).New)
	if err != nil {
		t.Fatal(err)
	}
	m.SetMmapLayout(mm.NewMmapLayout(0x7ffffffff000, 8<<20, false))
	addr, err := m.MMap(mm.MMapOpts{Length: 2 * linux.PageSize, Private: true, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(addr, []byte(e.argv+e.envv)); err != nil {
		t.Fatal(err)
	}
	e.initMM = m
	img := &loader.Result{
		Comm:      "prog",
		ArgvStart: uint64(addr), ArgvEnd: uint64(addr) + uint64(len(e.argv)),
		EnvvStart: uint64(addr) + uint64(len(e.argv)), EnvvEnd: uint64(addr) + uint64(len(e.argv)+len(e.envv)),
		Auxv: []linux.AuxEntry{{Key: linux.AT_PAGESZ, Value: linux.PageSize}, {}},
	}

	// init's descriptors: 0 is /tmp/f read-write, 1 the write end of a
	// pipe.
	fdt := vfs.NewFDTable()
	f, err := v.OpenAt(e.rootCtx, e.creds, e.pop("/tmp/f"), &vfs.OpenOptions{Flags: linux.O_RDWR | linux.O_CREAT, Mode: 0644})
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := pipe.NewFS(v).NewConnectedFDs(e.rootCtx, e.creds, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, file := range []*vfs.FileDescription{f, w} {
		if err := fdt.NewFDAt(e.rootCtx, int32(i), file, vfs.FDFlags{CloseOnExec: i == 1}); err != nil {
			t.Fatal(err)
		}
		file.DecRef(e.rootCtx)
	}
	st, _ := r.Stat(e.rootCtx, vfs.StatOptions{Mask: linux.STATX_INO})
	e.pipeIno = strconv.FormatUint(st.Ino, 10)
	t.Cleanup(func() { r.DecRef(e.rootCtx) })

	cwd, err := v.GetDentryAt(e.rootCtx, e.creds, e.pop("/tmp"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cwd.DecRef()
	e.init, err = kernel.NewProcTestTask(k, kernel.ProcTestTaskOptions{
		Creds: e.creds, MM: m, FDTable: fdt, FSContext: kernel.NewFSContext(e.root, cwd, 0o022), Image: img,
	})
	if err != nil {
		t.Fatal(err)
	}
	user := auth.NewUserCredentials(1000, 1000, []auth.KGID{10, 20}, e.creds.UserNamespace)
	e.child, err = kernel.NewProcTestTask(k, kernel.ProcTestTaskOptions{
		Parent: e.init, Creds: user, FDTable: vfs.NewFDTable(),
		FSContext: kernel.NewFSContext(e.root, e.root, 0o077),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.thread, err = kernel.NewProcTestTask(k, kernel.ProcTestTaskOptions{ThreadOf: e.init})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) pop(path string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: e.root, Start: e.root, Path: path, FollowFinalSymlink: true}
}

// as returns a context acting for task.
func (e *env) as(task *kernel.Task) context.Context {
	return taskCtx{auth.ContextWithCredentials(context.Background(), task.Credentials()), task}
}

func (e *env) read(ctx context.Context, path string) (string, error) {
	e.t.Helper()
	creds := auth.CredentialsFromContext(ctx)
	fd, err := e.vfs.OpenAt(ctx, creds, e.pop(path), &vfs.OpenOptions{Flags: linux.O_RDONLY})
	if err != nil {
		return "", err
	}
	defer fd.DecRef(ctx)
	var out []byte
	buf := make([]byte, 7) // small, to exercise reads that continue
	for {
		n, err := fd.Read(ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{})
		out = append(out, buf[:n]...)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		if n == 0 {
			return string(out), nil
		}
	}
}

func (e *env) mustRead(ctx context.Context, path string) string {
	e.t.Helper()
	s, err := e.read(ctx, path)
	if err != nil {
		e.t.Fatalf("read %s: %v", path, err)
	}
	return s
}

func (e *env) readlink(ctx context.Context, path string) (string, error) {
	p := e.pop(path)
	p.FollowFinalSymlink = false
	return e.vfs.ReadlinkAt(ctx, auth.CredentialsFromContext(ctx), p)
}

func (e *env) list(ctx context.Context, path string) []string {
	e.t.Helper()
	fd, err := e.vfs.OpenAt(ctx, auth.CredentialsFromContext(ctx), e.pop(path), &vfs.OpenOptions{Flags: linux.O_RDONLY | linux.O_DIRECTORY})
	if err != nil {
		e.t.Fatalf("open %s: %v", path, err)
	}
	defer fd.DecRef(ctx)
	var names []string
	if err := fd.IterDirents(ctx, func(d vfs.Dirent) error {
		names = append(names, d.Name)
		return nil
	}); err != nil {
		e.t.Fatalf("getdents %s: %v", path, err)
	}
	return names
}

// fields parses "Key:\tvalue" lines.
func fields(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		k, v, _ := strings.Cut(line, ":")
		m[k] = strings.TrimLeft(v, "\t ")
	}
	return m
}

func TestRootListingAndSelf(t *testing.T) {
	e := newEnv(t)
	names := e.list(e.rootCtx, "/proc")
	for _, want := range []string{".", "..", "self", "thread-self", "meminfo", "mounts", "sys", "1", "2"} {
		if !slices.Contains(names, want) {
			t.Errorf("/proc lacks %q: %v", want, names)
		}
	}
	if slices.Contains(names, "3") {
		t.Errorf("/proc lists thread 3 as a process: %v", names)
	}
	if got, err := e.readlink(e.as(e.init), "/proc/self"); err != nil || got != "1" {
		t.Errorf("self for init = %q, %v", got, err)
	}
	if got, err := e.readlink(e.as(e.child), "/proc/self"); err != nil || got != "2" {
		t.Errorf("self for child = %q, %v", got, err)
	}
	if got, err := e.readlink(e.as(e.thread), "/proc/thread-self"); err != nil || got != "1/task/3" {
		t.Errorf("thread-self for thread = %q, %v", got, err)
	}
	if _, err := e.readlink(e.rootCtx, "/proc/self"); err != linux.ENOENT {
		t.Errorf("self without a task = %v, want ENOENT", err)
	}
	// Following self reaches the reader's own directory.
	st := fields(e.mustRead(e.as(e.child), "/proc/self/status"))
	if st["Pid"] != "2" {
		t.Errorf("self/status Pid = %q", st["Pid"])
	}
	if got := e.list(e.rootCtx, "/proc/1/task"); !slices.Equal(got, []string{".", "..", "1", "3"}) {
		t.Errorf("/proc/1/task = %v", got)
	}
	if _, err := e.read(e.rootCtx, "/proc/99/status"); err != linux.ENOENT {
		t.Errorf("missing PID: %v, want ENOENT", err)
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	st := fields(e.mustRead(e.as(e.init), "/proc/1/status"))
	want := map[string]string{
		"Name": "prog", "Umask": "0022", "State": "R (running)", "Tgid": "1", "Pid": "1", "PPid": "0",
		"Uid": "0\t0\t0\t0", "Gid": "0\t0\t0\t0", "Threads": "2", "NStgid": "1", "NSpid": "1",
		"NSpgid": "1", "NSsid": "1", "FDSize": "64", "SigBlk": "0000000000000000",
		"CapEff": "000001ffffffffff", "Cpus_allowed": "3", "Cpus_allowed_list": "0-1",
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("status %s = %q, want %q", k, st[k], v)
		}
	}
	ms := e.initMM.Stats()
	if got, want := st["VmSize"], strconv.FormatUint(ms.VirtualSize>>10, 10)+" kB"; got != want {
		t.Errorf("VmSize = %q, want %q", got, want)
	}
	// Another reader sees init running, since the fixture's tasks never
	// park (test/syscalls' proc covers sleeping); the thread's own file
	// shows its TID.
	if got := fields(e.mustRead(e.as(e.child), "/proc/1/status"))["State"]; got != "R (running)" {
		t.Errorf("State seen by another task = %q", got)
	}
	if got := fields(e.mustRead(e.rootCtx, "/proc/1/task/3/status"))["Pid"]; got != "3" {
		t.Errorf("task/3 Pid = %q", got)
	}
	cst := fields(e.mustRead(e.rootCtx, "/proc/2/status"))
	if cst["Uid"] != "1000\t1000\t1000\t1000" || cst["Groups"] != "10 20 " || cst["PPid"] != "1" || cst["CapEff"] != "0000000000000000" {
		t.Errorf("child status: Uid %q Groups %q PPid %q CapEff %q", cst["Uid"], cst["Groups"], cst["PPid"], cst["CapEff"])
	}
	if _, ok := cst["VmSize"]; ok {
		t.Errorf("a process without an address space shows VmSize")
	}
}

func TestStatAndStatm(t *testing.T) {
	e := newEnv(t)
	s := e.mustRead(e.as(e.init), "/proc/1/stat")
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open || s[open+1:close] != "prog" {
		t.Fatalf("stat comm: %q", s)
	}
	rest := strings.Fields(s[close+1:])
	if n := 2 + len(rest); n != 52 {
		t.Fatalf("stat has %d fields, want 52: %q", n, s)
	}
	field := func(i int) string { return rest[i-3] } // 1-based proc(5) numbering
	ms := e.initMM.Stats()
	for i, want := range map[int]string{
		3: "R", 4: "0", 5: "1", 6: "1", 8: "-1", 18: "20", 20: "2",
		23: strconv.FormatUint(ms.VirtualSize, 10), 24: strconv.FormatUint(ms.Resident/linux.PageSize, 10),
		38: "17", 48: strconv.FormatUint(uint64(e.init.ProcImage().ArgvStart), 10),
	} {
		if got := field(i); got != want {
			t.Errorf("stat field %d = %q, want %q", i, got, want)
		}
	}
	if s[:2] != "1 " {
		t.Errorf("stat pid: %q", s)
	}
	if ts := e.mustRead(e.rootCtx, "/proc/1/task/3/stat"); !strings.HasPrefix(ts, "3 (prog) ") {
		t.Errorf("task/3/stat = %q", ts)
	}

	statm := strings.Fields(e.mustRead(e.rootCtx, "/proc/1/statm"))
	if len(statm) != 7 || statm[0] != strconv.FormatUint(ms.VirtualSize/linux.PageSize, 10) {
		t.Errorf("statm = %v (VmSize %d)", statm, ms.VirtualSize)
	}
}

func TestMemoryFiles(t *testing.T) {
	e := newEnv(t)
	if got := e.mustRead(e.rootCtx, "/proc/1/cmdline"); got != e.argv {
		t.Errorf("cmdline = %q, want %q", got, e.argv)
	}
	if got := e.mustRead(e.rootCtx, "/proc/1/environ"); got != e.envv {
		t.Errorf("environ = %q, want %q", got, e.envv)
	}
	if got := e.mustRead(e.rootCtx, "/proc/1/maps"); got != string(e.initMM.Maps()) || got == "" {
		t.Errorf("maps = %q, want %q", got, e.initMM.Maps())
	}
	if got := e.mustRead(e.rootCtx, "/proc/1/auxv"); len(got) != 32 || got[0] != linux.AT_PAGESZ {
		t.Errorf("auxv = %x", got)
	}
	// setproctitle: once the final NUL is overwritten, cmdline runs on
	// into the environment up to its first NUL.
	img := e.init.ProcImage()
	e.initMM.CopyOut(uintptr(img.ArgvEnd-1), []byte{'X'})
	if got, want := e.mustRead(e.rootCtx, "/proc/1/cmdline"), "prog"; got != want {
		// The first NUL ends the title when one remains inside argv.
		t.Errorf("cmdline after overwriting the last NUL = %q, want %q", got, want)
	}
	e.initMM.CopyOut(uintptr(img.ArgvStart), []byte("prog -vX"))
	if got, want := e.mustRead(e.rootCtx, "/proc/1/cmdline"), "prog -vXHOME=/"; got != want {
		t.Errorf("cmdline with no NUL left = %q, want %q", got, want)
	}
	if got := e.mustRead(e.rootCtx, "/proc/1/comm"); got != "prog\n" {
		t.Errorf("comm = %q", got)
	}
}

func TestFDLinks(t *testing.T) {
	e := newEnv(t)
	ctx := e.as(e.init)
	if got := e.list(ctx, "/proc/1/fd"); !slices.Equal(got, []string{".", "..", "0", "1"}) {
		t.Errorf("fd/ = %v", got)
	}
	if got, err := e.readlink(ctx, "/proc/1/fd/0"); err != nil || got != "/tmp/f" {
		t.Errorf("fd/0 -> %q, %v", got, err)
	}
	if got, err := e.readlink(ctx, "/proc/1/fd/1"); err != nil || got != "pipe:["+e.pipeIno+"]" {
		t.Errorf("fd/1 -> %q, %v", got, err)
	}
	if got, err := e.readlink(ctx, "/proc/1/cwd"); err != nil || got != "/tmp" {
		t.Errorf("cwd -> %q, %v", got, err)
	}
	if got, err := e.readlink(ctx, "/proc/1/root"); err != nil || got != "/" {
		t.Errorf("root -> %q, %v", got, err)
	}
	// Following fd/0 reaches the file itself.
	st, err := e.vfs.StatAt(ctx, e.creds, e.pop("/proc/self/fd/0"), vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if err != nil || st.Mode&linux.S_IFMT != linux.S_IFREG {
		t.Errorf("stat through fd/0: mode %o, %v", st.Mode, err)
	}
	info := fields(e.mustRead(ctx, "/proc/1/fdinfo/1"))
	// O_LARGEFILE's value differs between architectures.
	if want := fmt.Sprintf("0%o", linux.O_CLOEXEC|linux.O_LARGEFILE|linux.O_WRONLY); info["pos"] != "0" || info["flags"] != want || info["ino"] != e.pipeIno {
		t.Errorf("fdinfo/1 = %v", info)
	}
	if got := fields(e.mustRead(ctx, "/proc/1/fdinfo/0"))["flags"]; got != fmt.Sprintf("0%o", linux.O_LARGEFILE|linux.O_RDWR) {
		t.Errorf("fdinfo/0 flags = %q", got)
	}
	// A descriptor closed after the lookup disappears.
	e.init.ProcFDTable().Remove(0).DecRef(ctx)
	if _, err := e.readlink(ctx, "/proc/1/fd/0"); err != linux.ENOENT {
		t.Errorf("closed fd/0: %v, want ENOENT", err)
	}
}

func TestPtraceAccess(t *testing.T) {
	e := newEnv(t)
	user := e.as(e.child)
	for _, p := range []string{"/proc/1/environ", "/proc/1/auxv", "/proc/1/maps", "/proc/1/mem"} {
		if _, err := e.read(user, p); err != linux.EACCES {
			t.Errorf("uid 1000 reading %s: %v, want EACCES", p, err)
		}
	}
	if _, err := e.readlink(user, "/proc/1/cwd"); err != linux.EACCES {
		t.Errorf("uid 1000 readlink init's cwd: %v, want EACCES", err)
	}
	if _, err := e.read(user, "/proc/1/status"); err != nil {
		t.Errorf("status is world-readable: %v", err)
	}
	// A process may read its own; root may read anyone's.
	if _, err := e.read(user, "/proc/2/environ"); err != nil {
		t.Errorf("own environ: %v", err)
	}
	if got := e.list(user, "/proc/2/fd"); !slices.Equal(got, []string{".", ".."}) {
		t.Errorf("own fd/ = %v", got)
	}
	st, err := e.vfs.StatAt(user, e.child.Credentials(), e.pop("/proc/2/status"), vfs.StatOptions{Mask: linux.STATX_UID})
	if err != nil || st.UID != 1000 || st.GID != 1000 {
		t.Errorf("child's files owned by %d:%d (%v), want 1000:1000", st.UID, st.GID, err)
	}
}

func TestExitedProcessDisappears(t *testing.T) {
	e := newEnv(t)
	ctx := e.as(e.init)
	e.mustRead(ctx, "/proc/2/status") // caches the dentry
	kernel.ProcTestExit(e.child, linux.WaitStatusExit(0))
	if got := fields(e.mustRead(ctx, "/proc/2/status"))["State"]; got != "Z (zombie)" {
		t.Errorf("zombie State = %q", got)
	}
	if _, err := e.init.Wait(kernel.WaitOptions{Events: linux.WEXITED}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.read(ctx, "/proc/2/status"); err != linux.ENOENT {
		t.Errorf("reaped process: %v, want ENOENT", err)
	}
	if slices.Contains(e.list(ctx, "/proc"), "2") {
		t.Errorf("reaped process still listed")
	}
}

// TestProcessDirThreadGroup checks which open files name a process for
// pidfd_send_signal: /proc/PID directories only.
func TestProcessDirThreadGroup(t *testing.T) {
	e := newEnv(t)
	ctx := e.as(e.init)
	open := func(path string, flags uint32) *vfs.FileDescription {
		t.Helper()
		fd, err := e.vfs.OpenAt(ctx, e.creds, e.pop(path), &vfs.OpenOptions{Flags: flags})
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		t.Cleanup(func() { fd.DecRef(ctx) })
		return fd
	}
	for _, c := range []struct {
		path  string
		flags uint32
		want  *kernel.ThreadGroup
	}{
		{"/proc/1", linux.O_RDONLY | linux.O_DIRECTORY, e.init.ThreadGroup()},
		{"/proc/2", linux.O_RDONLY, e.child.ThreadGroup()},
		{"/proc/self", linux.O_RDONLY | linux.O_DIRECTORY, e.init.ThreadGroup()},
		{"/proc/1", linux.O_PATH | linux.O_DIRECTORY, nil},
		{"/proc/1/task/1", linux.O_RDONLY | linux.O_DIRECTORY, nil},
		{"/proc/1/task/3", linux.O_RDONLY | linux.O_DIRECTORY, nil},
		{"/proc/1/task", linux.O_RDONLY | linux.O_DIRECTORY, nil},
		{"/proc/1/fd", linux.O_RDONLY | linux.O_DIRECTORY, nil},
		{"/proc/1/status", linux.O_RDONLY, nil},
		{"/proc", linux.O_RDONLY | linux.O_DIRECTORY, nil},
		{"/tmp", linux.O_RDONLY | linux.O_DIRECTORY, nil},
	} {
		if got := proc.ProcessDirThreadGroup(open(c.path, c.flags)); got != c.want {
			t.Errorf("%s (flags %#x): got %p, want %p", c.path, c.flags, got, c.want)
		}
	}

	// The directory keeps naming the process it was opened for after the
	// process is reaped and the entry is gone.
	dir := open("/proc/2", linux.O_RDONLY|linux.O_DIRECTORY)
	kernel.ProcTestExit(e.child, linux.WaitStatusExit(0))
	if _, err := e.init.Wait(kernel.WaitOptions{Events: linux.WEXITED}); err != nil {
		t.Fatal(err)
	}
	if got := proc.ProcessDirThreadGroup(dir); got != e.child.ThreadGroup() {
		t.Errorf("reaped /proc/2: got %p, want the child's %p", got, e.child.ThreadGroup())
	}
}

func TestMounts(t *testing.T) {
	e := newEnv(t)
	ctx := e.as(e.init)
	want := "tmpfs / tmpfs rw 0 0\nproc /proc proc rw,nosuid,nodev,noexec 0 0\n"
	if got := e.mustRead(ctx, "/proc/mounts"); got != want {
		t.Errorf("mounts = %q, want %q", got, want)
	}
	lines := strings.Split(strings.TrimSuffix(e.mustRead(ctx, "/proc/self/mountinfo"), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("mountinfo = %q", lines)
	}
	root, procLine := strings.Fields(lines[0]), strings.Fields(lines[1])
	if len(procLine) != 10 || procLine[1] != root[0] || procLine[3] != "/" || procLine[4] != "/proc" ||
		procLine[5] != "rw,nosuid,nodev,noexec" || procLine[6] != "-" || procLine[7] != "proc" {
		t.Errorf("mountinfo proc line = %q (root %q)", procLine, root)
	}
	if !strings.HasPrefix(procLine[2], "0:") {
		t.Errorf("proc device = %q", procLine[2])
	}
}

func TestSystemFiles(t *testing.T) {
	e := newEnv(t)
	ctx := e.as(e.init)
	mem := e.mustRead(ctx, "/proc/meminfo")
	if !strings.HasPrefix(mem, "MemTotal:        1048576 kB\nMemFree:  ") {
		t.Errorf("meminfo = %q", mem)
	}
	free, _ := strconv.Atoi(strings.Fields(fields(mem)["MemFree"])[0])
	if used := e.k.MemoryFile.Allocated(); free != int((1<<30-used)>>10) || used == 0 {
		t.Errorf("MemFree %d kB with %d bytes allocated", free, used)
	}
	if got := e.mustRead(ctx, "/proc/filesystems"); got != "nodev\tproc\nnodev\ttmpfs\n" {
		t.Errorf("filesystems = %q", got)
	}
	if got := e.mustRead(ctx, "/proc/cgroups"); got != "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t0\t1\t1\nmemory\t0\t1\t1\npids\t0\t1\t1\n" {
		t.Errorf("cgroups = %q", got)
	}
	if got := strings.Fields(e.mustRead(ctx, "/proc/loadavg")); len(got) != 5 || got[3] != "1/3" || got[4] != "3" {
		t.Errorf("loadavg = %q", got)
	}
	up := strings.Fields(e.mustRead(ctx, "/proc/uptime"))
	if secs, err := strconv.ParseFloat(up[0], 64); err != nil || secs < 59 || secs > 3600 {
		t.Errorf("uptime = %q", up)
	}
	if got := e.mustRead(ctx, "/proc/version"); !strings.HasPrefix(got, "Linux version 6.1.0 ") {
		t.Errorf("version = %q", got)
	}
	if got := e.mustRead(ctx, "/proc/cpuinfo"); got != "processor\t: 0\n" {
		t.Errorf("cpuinfo = %q", got)
	}
	stat := e.mustRead(ctx, "/proc/stat")
	// The fixture's tasks never ran: all of the two CPUs' time since boot
	// is idle, split between the cpuN lines.
	var total, perCPU [3]uint64
	for _, l := range strings.Split(stat, "\n") {
		f := strings.Fields(l)
		if len(f) != 11 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		for i, col := range []int{1, 3, 4} { // user, system, idle
			v, _ := strconv.ParseUint(f[col], 10, 64)
			if f[0] == "cpu" {
				total[i] = v
			} else {
				perCPU[i] += v
			}
		}
	}
	upSecs, _ := strconv.ParseFloat(up[0], 64)
	if total[0] != 0 || total[1] != 0 || total != perCPU || float64(total[2]) < 2*100*(upSecs-1) ||
		!strings.Contains(stat, "\ncpu1 ") || !strings.Contains(stat, "\nbtime ") {
		t.Errorf("stat = %q", stat)
	}
	if idle, _ := strconv.ParseFloat(up[1], 64); idle < 2*(upSecs-1) {
		t.Errorf("uptime's idle %v with 2 idle CPUs up %v s", idle, upSecs)
	}
	uts := e.k.UTSNames()
	for path, want := range map[string]string{
		"/proc/sys/kernel/hostname":                              "sandbox-host\n",
		"/proc/sys/kernel/osrelease":                             utsField(uts.Release[:]) + "\n",
		"/proc/sys/kernel/ostype":                                "Linux\n",
		"/proc/sys/kernel/pid_max":                               "4194304\n",
		"/proc/sys/fs/nr_open":                                   "1048576\n",
		"/proc/sys/vm/overcommit_memory":                         "1\n",
		"/proc/sys/kernel/random/boot_id":                        e.mustRead(ctx, "/proc/sys/kernel/random/boot_id"),
		"/proc/sys/fs/file-max":                                  "9223372036854775807\n",
		"/proc/sys/kernel/version":                               utsField(uts.Version[:]) + "\n",
		"/proc/sys/kernel/random/../ostype":                      "Linux\n",
		"/proc/self/cgroup":                                      "0::/\n",
		"/proc/self/task/1/../../cgroup":                         "0::/\n",
		"/proc/sys/kernel/../kernel/ostype":                      "Linux\n",
		"/proc/1/task/1/../../../sys/fs/../vm/overcommit_memory": "1\n",
	} {
		if got := e.mustRead(ctx, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	u1, u2 := e.mustRead(ctx, "/proc/sys/kernel/random/uuid"), e.mustRead(ctx, "/proc/sys/kernel/random/uuid")
	if u1 == u2 || len(u1) != 37 || u1[14] != '4' {
		t.Errorf("uuid reads %q then %q", u1, u2)
	}
	if _, err := e.vfs.OpenAt(ctx, e.creds, e.pop("/proc/meminfo"), &vfs.OpenOptions{Flags: linux.O_WRONLY}); err == nil {
		fd, _ := e.vfs.OpenAt(ctx, e.creds, e.pop("/proc/meminfo"), &vfs.OpenOptions{Flags: linux.O_WRONLY})
		if _, err := fd.Write(ctx, vfs.BytesIOSequence([]byte("x")), vfs.WriteOptions{}); err == nil {
			t.Errorf("write to meminfo succeeded")
		}
		fd.DecRef(ctx)
	}
	if err := e.vfs.MkdirAt(ctx, e.creds, e.pop("/proc/newdir"), 0755); err != linux.EPERM {
		t.Errorf("mkdir in /proc: %v, want EPERM", err)
	}
}

func utsField(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
