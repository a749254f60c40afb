package sys

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	vfs   *vfs.VirtualFilesystem
	creds *auth.Credentials
	root  vfs.VirtualDentry
}

// newEnv mounts ft at /sys over a tmpfs root.
func newEnv(t *testing.T, ft *FilesystemType) *env {
	t.Helper()
	v := vfs.New()
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
	e := &env{t: t, ctx: ctx, vfs: v, creds: creds, root: mntns.Root()}
	if err := v.MkdirAt(ctx, creds, e.pop("/sys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := v.MountAt(ctx, creds, "sysfs", e.pop("/sys"), Name, &vfs.MountOptions{Flags: linux.MS_RDONLY}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) pop(p string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: e.root, Start: e.root, Path: p, FollowFinalSymlink: true}
}

func (e *env) open(p string, flags uint32) (*vfs.FileDescription, error) {
	return e.vfs.OpenAt(e.ctx, e.creds, e.pop(p), &vfs.OpenOptions{Flags: flags})
}

func (e *env) read(p string) (string, error) {
	fd, err := e.open(p, linux.O_RDONLY)
	if err != nil {
		return "", err
	}
	defer fd.DecRef(e.ctx)
	return readFD(e.ctx, fd)
}

func readFD(ctx context.Context, fd *vfs.FileDescription) (string, error) {
	var out []byte
	buf := make([]byte, 3) // small, so reads continue in the snapshot
	for {
		n, err := fd.Read(ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{})
		if err != nil {
			return string(out), err
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

func (e *env) mustRead(p string) string {
	e.t.Helper()
	s, err := e.read(p)
	if err != nil {
		e.t.Fatalf("read %s: %v", p, err)
	}
	return s
}

func (e *env) list(p string) []string {
	e.t.Helper()
	fd, err := e.open(p, linux.O_RDONLY|linux.O_DIRECTORY)
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

func (e *env) stat(p string) linux.Statx {
	e.t.Helper()
	st, err := e.vfs.StatAt(e.ctx, e.creds, e.pop(p), vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if err != nil {
		e.t.Fatalf("stat %s: %v", p, err)
	}
	return st
}

func TestCPUFiles(t *testing.T) {
	for _, tc := range []struct {
		n          int
		list, mask string
	}{
		{0, "0", "1"},
		{1, "0", "1"},
		{2, "0-1", "3"},
		{40, "0-39", "ff,ffffffff"},
	} {
		e := newEnv(t, &FilesystemType{NumCPUs: tc.n})
		for _, f := range []string{"online", "possible", "present"} {
			if got := e.mustRead("/sys/devices/system/cpu/" + f); got != tc.list+"\n" {
				t.Errorf("n=%d: cpu/%s = %q, want %q", tc.n, f, got, tc.list+"\n")
			}
		}
		if got := e.mustRead("/sys/devices/system/cpu/offline"); got != "\n" {
			t.Errorf("cpu/offline = %q", got)
		}
		names := e.list("/sys/devices/system/cpu")
		ncpu := max(tc.n, 1)
		for i := range ncpu {
			if !slices.Contains(names, "cpu"+itoa(i)) {
				t.Errorf("n=%d: cpu%d missing from %q", tc.n, i, names)
			}
		}
		if slices.Contains(names, "cpu"+itoa(ncpu)) {
			t.Errorf("n=%d: cpu%d listed", tc.n, ncpu)
		}
		last := "/sys/devices/system/cpu/cpu" + itoa(ncpu-1) + "/topology/"
		if got := e.mustRead(last + "core_id"); got != itoa(ncpu-1)+"\n" {
			t.Errorf("n=%d: core_id of the last CPU = %q", tc.n, got)
		}
		if got := e.mustRead(last + "core_siblings"); got != tc.mask+"\n" {
			t.Errorf("n=%d: core_siblings = %q, want %q", tc.n, got, tc.mask)
		}
		if got := e.mustRead(last + "core_siblings_list"); got != tc.list+"\n" {
			t.Errorf("n=%d: core_siblings_list = %q", tc.n, got)
		}
		if got := e.mustRead("/sys/devices/system/node/node0/cpulist"); got != tc.list+"\n" {
			t.Errorf("n=%d: node0/cpulist = %q", tc.n, got)
		}
	}
}

func TestCPUMask(t *testing.T) {
	for _, tc := range []struct {
		n    int
		set  []int
		want string
	}{
		{2, []int{0}, "1"},
		{2, []int{1}, "2"},
		{4, []int{2}, "4"},
		{8, []int{0, 7}, "81"},
		{32, []int{31}, "80000000"},
		{36, []int{0}, "0,00000001"},
		{64, []int{32}, "00000001,00000000"},
	} {
		if got := cpuMask(tc.n, func(c int) bool { return slices.Contains(tc.set, c) }); got != tc.want {
			t.Errorf("cpuMask(%d, %v) = %q, want %q", tc.n, tc.set, got, tc.want)
		}
	}
}

func TestTreeAndAttributes(t *testing.T) {
	e := newEnv(t, &FilesystemType{NumCPUs: 2})
	st := e.stat("/sys")
	if st.Mode&linux.S_IFMT != linux.S_IFDIR || st.Mode&0o7777 != 0o755 || st.UID != 0 {
		t.Errorf("/sys: mode %#o uid %d", st.Mode, st.UID)
	}
	top := e.list("/sys")
	for _, want := range []string{".", "..", "class", "devices", "fs", "kernel", "module"} {
		if !slices.Contains(top, want) {
			t.Errorf("/sys lacks %s: %q", want, top)
		}
	}
	// nlink is 2 plus the subdirectories.
	if st.Nlink != uint32(2+len(top)-2) {
		t.Errorf("/sys nlink = %d with %d entries", st.Nlink, len(top)-2)
	}
	if got := e.list("/sys/fs/cgroup"); !slices.Equal(got, []string{".", ".."}) {
		t.Errorf("/sys/fs/cgroup lists %q", got)
	}
	for _, d := range []string{"/sys/devices/virtual", "/sys/kernel", "/sys/module", "/sys/fs/cgroup"} {
		if st := e.stat(d); st.Mode&linux.S_IFMT != linux.S_IFDIR {
			t.Errorf("%s is not a directory", d)
		}
	}
	if got := e.mustRead("/sys/kernel/mm/transparent_hugepage/enabled"); got != "always [madvise] never\n" {
		t.Errorf("thp enabled = %q", got)
	}
	if !strings.Contains(e.mustRead("/sys/kernel/mm/transparent_hugepage/defrag"), "[madvise]") {
		t.Errorf("thp defrag has no selection")
	}
	f := e.stat("/sys/devices/system/cpu/online")
	if f.Mode != linux.S_IFREG|0o444 || f.Size != linux.PageSize {
		t.Errorf("cpu/online: mode %#o size %d", f.Mode, f.Size)
	}
	sfs, err := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/sys/kernel"))
	if err != nil || sfs.Type != linux.SYSFS_MAGIC {
		t.Errorf("statfs: %#x %v", sfs.Type, err)
	}

	// Nothing changes: the read-only mount says EROFS; without it, sysfs
	// itself refuses.
	_, err = e.open("/sys/kernel/mm/transparent_hugepage/enabled", linux.O_WRONLY)
	wantErr(t, "write-open on the read-only mount", err, linux.EROFS)
	ft := &FilesystemType{NumCPUs: 1}
	fs, root, err := ft.GetFilesystem(e.ctx, e.vfs, e.creds, "", vfs.GetFilesystemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rw := vfs.MakeVirtualDentry(e.vfs.NewDisconnectedMount(fs, root, 0), root)
	rwPop := func(p string) *vfs.PathOperation {
		return &vfs.PathOperation{Root: rw, Start: rw, Path: p}
	}
	_, err = e.vfs.OpenAt(e.ctx, e.creds, rwPop("devices/system/cpu/online"), &vfs.OpenOptions{Flags: linux.O_RDWR})
	wantErr(t, "write-open of an attribute", err, linux.EACCES)
	wantErr(t, "mkdir", e.vfs.MkdirAt(e.ctx, e.creds, rwPop("module/x"), 0o755), linux.EPERM)
	_, err = e.vfs.OpenAt(e.ctx, e.creds, rwPop("module/x"), &vfs.OpenOptions{Flags: linux.O_CREAT | linux.O_WRONLY, Mode: 0o644})
	wantErr(t, "create", err, linux.EPERM)

	_, _, err = ft.GetFilesystem(e.ctx, e.vfs, e.creds, "", vfs.GetFilesystemOptions{Data: "bogus"})
	wantErr(t, "unknown option", err, linux.EINVAL)
}

func TestNetInterfaces(t *testing.T) {
	e := newEnv(t, &FilesystemType{NumCPUs: 1})
	if got := e.list("/sys/class/net"); !slices.Equal(got, []string{".", "..", "lo"}) {
		t.Fatalf("/sys/class/net = %q, want lo alone", got)
	}
	if target, err := e.vfs.ReadlinkAt(e.ctx, e.creds, e.pop("/sys/class/net/lo")); err != nil || target != "../../devices/virtual/net/lo" {
		t.Errorf("readlink lo = %q %v", target, err)
	}
	for file, want := range map[string]string{
		"mtu": "65536", "flags": "0x9", "ifindex": "1", "type": "772", "address": "00:00:00:00:00:00",
		"addr_len": "6", "operstate": "unknown", "carrier": "1", "tx_queue_len": "1000",
	} {
		if got := e.mustRead("/sys/class/net/lo/" + file); got != want+"\n" {
			t.Errorf("lo/%s = %q, want %q", file, got, want)
		}
	}

	// The hook lists what the network stack has, as it changes.
	var mu sync.Mutex
	ifs := []NetInterface{Loopback(), {
		Name: "eth0", Index: 2, Flags: iffUp, MTU: 1500, Type: 1,
		HardwareAddr: []byte{2, 0x42, 0xac, 0x11, 0, 2}, Broadcast: []byte{255, 255, 255, 255, 255, 255},
	}}
	e = newEnv(t, &FilesystemType{NumCPUs: 1, NetInterfaces: func() []NetInterface {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ifs)
	}})
	if got := e.list("/sys/class/net"); !slices.Equal(got, []string{".", "..", "lo", "eth0"}) {
		t.Fatalf("/sys/class/net = %q", got)
	}
	if got := e.mustRead("/sys/class/net/eth0/address"); got != "02:42:ac:11:00:02\n" {
		t.Errorf("eth0 address = %q", got)
	}
	if got := e.mustRead("/sys/devices/virtual/net/eth0/operstate"); got != "up\n" {
		t.Errorf("eth0 operstate = %q", got)
	}
	ino := e.stat("/sys/devices/virtual/net/eth0").Ino
	if again := e.stat("/sys/class/net/eth0").Ino; again != ino {
		t.Errorf("eth0 inode changed between lookups: %d, %d", ino, again)
	}
	fd, err := e.open("/sys/class/net/eth0/mtu", linux.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef(e.ctx)
	mu.Lock()
	ifs = ifs[:1]
	mu.Unlock()
	if _, err := e.read("/sys/class/net/eth0/mtu"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("eth0 after removal: %v, want ENOENT", err)
	}
	if _, err := readFD(e.ctx, fd); !errors.Is(err, linux.ENODEV) {
		t.Errorf("read of an open attribute of a removed interface: %v, want ENODEV", err)
	}
	if got := e.list("/sys/devices/virtual/net"); !slices.Equal(got, []string{".", "..", "lo"}) {
		t.Errorf("virtual/net after removal = %q", got)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
