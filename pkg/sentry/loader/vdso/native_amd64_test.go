package vdso

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"golang.org/x/sys/unix"
)

// harnessC maps an Instance's vvar page and image out of the memory file
// (fd 3) exactly as an address space does, and calls the vDSO functions
// natively: the machine code is exercised against the host's own clocks
// while the Go side keeps republishing the vvar page.
const harnessC = `
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef long (*cg_t)(long, struct timespec *);
typedef long (*gtod_t)(struct timeval *, struct timezone *);
typedef long (*time_t_)(long *);
typedef long (*getcpu_t)(unsigned *, unsigned *, void *);

#define FAIL(...) do { printf("FAIL line %d: ", __LINE__); printf(__VA_ARGS__); printf("\n"); exit(1); } while (0)
#define NS 1000000000LL

static long long tsns(struct timespec t) { return t.tv_sec * NS + t.tv_nsec; }
static long long host(int c) { struct timespec t; if (syscall(SYS_clock_gettime, c, &t)) FAIL("host clock %d", c); return tsns(t); }
static long long llabs_(long long v) { return v < 0 ? -v : v; }

int main(int argc, char **argv) {
	if (argc != 11) FAIL("usage");
	long long off = atoll(argv[1]), size = atoll(argv[2]);
	int live = strcmp(argv[8], "live") == 0;
	long long coarse = atoll(argv[9]), runms = atoll(argv[10]);
	char *base = mmap(NULL, 4096 + size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) FAIL("reserve");
	if (mmap(base, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, 3, off) == MAP_FAILED) FAIL("vvar");
	char *text = base + 4096;
	if (mmap(text, size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, 3, off + 4096) == MAP_FAILED) FAIL("text");
	cg_t cg = (cg_t)(text + atoll(argv[3]));
	gtod_t gtod = (gtod_t)(text + atoll(argv[4]));
	time_t_ tm = (time_t_)(text + atoll(argv[5]));
	cg_t res = (cg_t)(text + atoll(argv[6]));
	getcpu_t getcpu = (getcpu_t)(text + atoll(argv[7]));
	struct timespec ts;

	/* The clocks the vDSO computes, checked against the host's for runms
	 * while the vvar page keeps changing. */
	int clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
	long long prev[3] = {0, 0, 0}, maxdiff = 0;
	long long end = host(CLOCK_MONOTONIC) + runms * 1000000LL;
	long iters = 0;
	while (host(CLOCK_MONOTONIC) < end) {
		for (int k = 0; k < 3; k++) {
			long long before = host(clocks[k]);
			for (int i = 0; i < 200; i++, iters++) {
				if (cg(clocks[k], &ts)) FAIL("clock_gettime(%d)", clocks[k]);
				if (ts.tv_nsec < 0 || ts.tv_nsec >= NS) FAIL("tv_nsec %ld", ts.tv_nsec);
				long long v = tsns(ts);
				if (clocks[k] != CLOCK_REALTIME && v < prev[k]) FAIL("clock %d went back %lld -> %lld", clocks[k], prev[k], v);
				prev[k] = v;
			}
			long long after = host(clocks[k]);
			/* The last value must lie in [before, after], up to the
			 * tolerance. */
			long long d = prev[k] < before ? before - prev[k] : (prev[k] > after ? prev[k] - after : 0);
			if (d > maxdiff) maxdiff = d;
		}
	}
	if (maxdiff > 200000) FAIL("vDSO clocks strayed %lld ns from the host's", maxdiff);
	printf("iterations %ld maxdiff %lld\n", iters, maxdiff);

	/* Coarse clocks: multiples of the resolution, not ahead of the host. */
	for (int c = CLOCK_REALTIME_COARSE; c <= CLOCK_MONOTONIC_COARSE && live && coarse; c++) {
		long long precise = c == CLOCK_REALTIME_COARSE ? CLOCK_REALTIME : CLOCK_MONOTONIC;
		long long before = host(precise);
		if (cg(c, &ts)) FAIL("coarse %d", c);
		long long v = tsns(ts), after = host(precise);
		if (v % coarse) FAIL("coarse %d value %lld not a multiple of %lld", c, v, coarse);
		if (v > after + 200000 || v < before - coarse - 200000) FAIL("coarse %d value %lld outside [%lld, %lld]", c, v, before, after);
		if (res(c, &ts) || ts.tv_sec || ts.tv_nsec != coarse) FAIL("coarse res %ld", ts.tv_nsec);
	}

	struct timeval tv;
	long long h0 = host(CLOCK_REALTIME);
	if (gtod(&tv, NULL)) FAIL("gettimeofday");
	long long g = tv.tv_sec * NS + tv.tv_usec * 1000LL, h1 = host(CLOCK_REALTIME);
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000 || g < h0 - 1000 - 200000 || g > h1 + 200000) FAIL("gettimeofday %lld not in [%lld, %lld]", g, h0, h1);
	if (gtod(NULL, NULL)) FAIL("gettimeofday(NULL, NULL)");
	struct timezone tz = {123, 456};
	if (gtod(&tv, &tz) || tz.tz_minuteswest == 123) FAIL("gettimeofday with tz (syscall)");
	long t1 = 0, t0 = h1 / NS, tr = tm(&t1);
	if (tr != t1 || tr < t0 || tr > host(CLOCK_REALTIME) / NS) FAIL("time %ld %ld %ld", tr, t1, t0);
	if (tm(NULL) < t0) FAIL("time(NULL)");

	if (res(CLOCK_MONOTONIC, &ts) || ts.tv_sec || ts.tv_nsec != 1) FAIL("res monotonic %ld", ts.tv_nsec);
	if (res(CLOCK_REALTIME, NULL)) FAIL("res NULL");
	struct timespec hs;
	syscall(SYS_clock_getres, CLOCK_PROCESS_CPUTIME_ID, &hs);
	if (res(CLOCK_PROCESS_CPUTIME_ID, &ts) || ts.tv_nsec != hs.tv_nsec) FAIL("res cputime");

	/* The system call paths. */
	if (cg(CLOCK_PROCESS_CPUTIME_ID, &ts) || tsns(ts) <= 0) FAIL("cputime");
	if (cg(CLOCK_THREAD_CPUTIME_ID, &ts) || tsns(ts) <= 0) FAIL("thread cputime");
	long long r0 = host(CLOCK_MONOTONIC_RAW);
	if (cg(CLOCK_MONOTONIC_RAW, &ts) || tsns(ts) < r0 || tsns(ts) > host(CLOCK_MONOTONIC_RAW)) FAIL("raw");
	if (cg(100, &ts) != -EINVAL) FAIL("clock 100");
	if (cg(16, &ts) != -EINVAL) FAIL("clock 16");
	if (cg(0xffffffff00000001LL, &ts) || llabs_(tsns(ts) - host(CLOCK_MONOTONIC)) > 1000000) FAIL("upper half of the clock ID not ignored");
	if (res(100, &ts) != -EINVAL) FAIL("res 100");
	unsigned cpu = ~0u, node = ~0u;
	if (getcpu(&cpu, &node, NULL) || cpu >= 4096 || node >= 4096) FAIL("getcpu %u %u", cpu, node);

	/* Cost per call. */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 1000000; i++) cg(CLOCK_MONOTONIC, &ts);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns/call vdso %lld\n", (tsns(b) - tsns(a)) / 1000000);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 1000000; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns/call host-vdso %lld\n", (tsns(b) - tsns(a)) / 1000000);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 100000; i++) syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns/call host-syscall %lld\n", (tsns(b) - tsns(a)) / 100000);
	printf("OK\n");
	return 0;
}
`

func buildHarness(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "h.c")
	if err := os.WriteFile(src, []byte(harnessC), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "h")
	if out, err := exec.Command(gcc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

func runHarness(t *testing.T, bin string, mf *pgalloc.MemoryFile, in *Instance, mode string, coarse int64, runMs int) string {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(buildOnce()))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.DynamicSymbols()
	addr := map[string]uint64{}
	for _, s := range syms {
		addr[s.Name] = s.Value
	}
	fd, err := unix.Dup(mf.FD())
	if err != nil {
		t.Fatal(err)
	}
	file := os.NewFile(uintptr(fd), "memfile")
	defer file.Close()
	r := in.MemoryFileRange()
	args := []string{fmt.Sprint(r.Start), fmt.Sprint(in.ImageSize())}
	for _, n := range []string{"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_clock_getres", "__vdso_getcpu"} {
		args = append(args, fmt.Sprint(addr[n]))
	}
	args = append(args, mode, fmt.Sprint(coarse), fmt.Sprint(runMs))
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{file}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK\n") {
		t.Fatalf("%s: %v\n%s", mode, err, out)
	}
	return string(out)
}

func newMemoryFile(t *testing.T) *pgalloc.MemoryFile {
	mf, err := pgalloc.New(pgalloc.Options{Name: "vdso-test", MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mf.Destroy)
	return mf
}

// TestNative runs the image's code on the host against a live Instance
// republishing every 2 ms.
func TestNative(t *testing.T) {
	bin := buildHarness(t)
	mf := newMemoryFile(t)
	coarse := CoarseResolution()
	in, err := New(mf, Options{TSCReliable: true, CoarseRes: coarse, Period: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	deadline := time.Now().Add(5 * time.Second)
	for Read(in.VVar()).Res[linux.CLOCK_MONOTONIC] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the vDSO never became usable")
		}
		time.Sleep(time.Millisecond)
	}
	out := runHarness(t, bin, mf, in, "live", coarse, 300)
	t.Logf("live:\n%s", out)
}

// TestNativeDisabled: with an unreliable TSC every function takes the
// system call path, and still answers right.
func TestNativeDisabled(t *testing.T) {
	bin := buildHarness(t)
	mf := newMemoryFile(t)
	in, err := New(mf, Options{TSCReliable: false, CoarseRes: CoarseResolution()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	if p := Read(in.VVar()); p.Res != ([numClockIDs]int64{}) {
		t.Fatalf("unreliable TSC published %v", p.Res)
	}
	out := runHarness(t, bin, mf, in, "off", 0, 20)
	t.Logf("disabled:\n%s", out)
}
