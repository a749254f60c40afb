package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// compatProgram calls three things the sandbox does not support, on
// purpose: a syscall without a handler (acct), a prctl option the
// sandbox refuses (PR_SET_TIMERSLACK, twice) and an ioctl request regular
// files do not implement here (FS_IOC_GETFLAGS).
const compatProgram = `
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
	(void)argc;
	syscall(SYS_acct, NULL);
	prctl(PR_SET_TIMERSLACK, 50000, 0, 0, 0);
	int fd = open(argv[0], O_RDONLY);
	int flags;
	ioctl(fd, FS_IOC_GETFLAGS, &flags);
	prctl(PR_SET_TIMERSLACK, 60000, 0, 0, 0);
	return 3;
}
`

// compatBaseline is the same program doing nothing: what the C library
// does on its own (rseq, say) is in both reports.
const compatBaseline = `int main(void) { return 0; }`

type compatReport struct {
	Command     []string     `json:"command"`
	ExitStatus  int          `json:"exitStatus"`
	Unsupported []compatItem `json:"unsupported"`
	Partial     []compatItem `json:"partial"`
}

type compatItem struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Count uint64 `json:"count"`
	First struct {
		PID  int32  `json:"pid"`
		Comm string `json:"comm"`
		PC   uint64 `json:"pc"`
		File string `json:"file"`
	} `json:"first"`
}

func buildStatic(t *testing.T, dir, name, src string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", bin, c).CombinedOutput(); err != nil {
		t.Skipf("gcc -static failed (libc6-dev missing?): %v\n%s", err, out)
	}
	return bin
}

func runCompat(t *testing.T, platform, prog string) (compatReport, int) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(runscPath, "--platform="+platform, "compat", "--format", "json", "--out", out, prog)
	stderr, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep compatReport
	data, rerr := os.ReadFile(out)
	if rerr != nil || json.Unmarshal(data, &rep) != nil {
		t.Fatalf("runsc compat %s: no report (exit %d): %v\n%s", prog, code, rerr, stderr)
	}
	return rep, code
}

func TestCompatNamesExactlyWhatTheProgramUsed(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	prog := buildStatic(t, dir, "three", compatProgram)
	base := buildStatic(t, dir, "base", compatBaseline)
	for _, platform := range []string{"ptrace", "systrap"} {
		t.Run(platform, func(t *testing.T) {
			baseRep, _ := runCompat(t, platform, base)
			rep, code := runCompat(t, platform, prog)
			if code != 3 || rep.ExitStatus != 3 {
				t.Errorf("exit %d, report says %d; want the program's 3", code, rep.ExitStatus)
			}
			inBase := map[string]bool{}
			for _, it := range baseRep.Unsupported {
				inBase[it.Kind+" "+it.Name] = true
			}
			var got []string
			for _, it := range rep.Unsupported {
				key := it.Kind + " " + it.Name
				if inBase[key] {
					continue
				}
				got = append(got, key)
				if it.First.PID != 1 || it.First.Comm != "three" || it.First.File != prog || it.First.PC == 0 {
					t.Errorf("%s: first call %+v, want pid 1 of %s with its pc", key, it.First, prog)
				}
				if strings.HasPrefix(key, "prctl") && it.Count != 2 {
					t.Errorf("%s: count %d, want 2", key, it.Count)
				}
			}
			sort.Strings(got)
			want := []string{
				"ioctl FS_IOC_GETFLAGS (0x80086601)",
				"prctl PR_SET_TIMERSLACK (29)",
				"syscall acct",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("unsupported beyond the C library's own:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
