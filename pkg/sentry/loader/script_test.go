package loader

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestParseScriptLine(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        string
		interp    string
		arg       string
		notScript bool
		err       bool
	}{
		{name: "plain", in: "#!/bin/sh\necho", interp: "/bin/sh"},
		{name: "arg", in: "#!/bin/sh -e\n", interp: "/bin/sh", arg: "-e"},
		{name: "blanks", in: "#! \t/usr/bin/env  python3 -u \t\nx", interp: "/usr/bin/env", arg: "python3 -u"},
		{name: "no newline", in: "#!/bin/sh", interp: "/bin/sh"},
		{name: "cr kept", in: "#!/bin/sh -x\r\n", interp: "/bin/sh", arg: "-x\r"},
		{name: "nul ends line", in: "#!/bin/sh\x00 junk\n", interp: "/bin/sh"},
		{name: "blank before nul kept", in: "#!/bin/sh arg \x00\n", interp: "/bin/sh", arg: "arg "},
		{name: "only blanks", in: "#!   \n", err: true},
		{name: "empty", in: "#!\n", err: true},
		{name: "all blanks no newline", in: "#!" + strings.Repeat(" ", 300), err: true},
		{name: "long name truncated", in: "#!/" + strings.Repeat("a", 300), err: true},
		{name: "long name before newline", in: "#!/" + strings.Repeat("a", 300) + "\n", err: true},
		{name: "long arg cut", in: "#!/bin/sh " + strings.Repeat("b", 300) + "\n", interp: "/bin/sh", arg: strings.Repeat("b", 255-len("#!/bin/sh "))},
		{name: "newline at 255", in: "#!/bin/sh " + strings.Repeat("c", 255-len("#!/bin/sh ")) + "\n", interp: "/bin/sh", arg: strings.Repeat("c", 255-len("#!/bin/sh "))},
		{name: "ELF", in: "\x7fELF", notScript: true},
		{name: "one byte", in: "#", notScript: true},
		{name: "text", in: "echo hi\n", notScript: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			interp, arg, ok, err := parseScriptLine([]byte(tc.in))
			if ok == tc.notScript {
				t.Fatalf("isScript %v", ok)
			}
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				wantErrno(t, err, linux.ENOEXEC)
			}
			if interp != tc.interp || arg != tc.arg {
				t.Errorf("got %q %q, want %q %q", interp, arg, tc.interp, tc.arg)
			}
		})
	}
}

const showArgsC = `
#include <stdio.h>
int main(int argc, char **argv) {
	for (int i = 0; i < argc; i++) { fputs(argv[i], stdout); putchar(0); }
	return 0;
}
`

// TestScriptsMatchLinux runs "#!" scripts natively and through the loader
// and compares the interpreter's argv (or the ENOEXEC).
func TestScriptsMatchLinux(t *testing.T) {
	dir := t.TempDir()
	show := buildC(t, dir, "show", showArgsC)
	for i, line := range []string{
		"%s\n",
		"%s -e\n",
		"  \t%s   one  two \t\n",
		"%s",
		"%s x\r\n",
		"%s\x00 junk\n",
		"%s arg \x00\n",
		"%s " + strings.Repeat("b", 300) + "\n",
		"   \n",
		"/" + strings.Repeat("a", 300),
	} {
		content := "#!" + strings.ReplaceAll(line, "%s", show)
		script := filepath.Join(dir, "s"+string(rune('a'+i)))
		if err := os.WriteFile(script, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		out, nerr := exec.Command(script, "x1", "x 2").Output()
		var native []string
		if nerr == nil {
			native = strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		} else if !errors.Is(nerr, syscall.ENOEXEC) {
			t.Fatalf("%q: native run: %v", content, nerr)
		}

		mm := newFakeMM()
		args := baseArgs(newMemFile([]byte(content)), mm, mapOpener{show: newMemFile(simpleELF().bytes())})
		args.Filename = script
		args.Argv = []string{script, "x1", "x 2"}
		res, err := load(args, &amd64Params)
		if nerr != nil {
			wantErrno(t, err, linux.ENOEXEC)
			continue
		}
		if err != nil {
			t.Fatalf("%q: Linux ran it, we failed: %v", content, err)
		}
		if strings.Join(res.Argv, "|") != strings.Join(native, "|") {
			t.Errorf("%q: argv %q, Linux %q", content, res.Argv, native)
		}
		d := decodeStack(t, mm, res.Regs.SP)
		if strings.Join(d.argv, "|") != strings.Join(native, "|") || d.execfn != script {
			t.Errorf("%q: stack argv %q execfn %q", content, d.argv, d.execfn)
		}
		if res.ExePath != show || res.Comm != filepath.Base(script) {
			t.Errorf("exe %q comm %q", res.ExePath, res.Comm)
		}
	}
}

// TestScriptDepth: five nested scripts load, six are ELOOP (measured on
// Linux 6.18 with a chain of scripts naming each other).
func TestScriptDepth(t *testing.T) {
	chain := func(n int) (File, mapOpener) {
		o := mapOpener{"/elf": newMemFile(simpleELF().bytes())}
		prev := "/elf"
		for i := 1; i < n; i++ {
			p := "/s" + string(rune('0'+i))
			o[p] = newMemFile([]byte("#!" + prev + "\n"))
			prev = p
		}
		return newMemFile([]byte("#!" + prev + " opt\n")), o
	}
	for n, want := range map[int]linux.Errno{1: 0, 5: 0, 6: linux.ELOOP, 7: linux.ELOOP} {
		f, o := chain(n)
		res, err := load(baseArgs(f, newFakeMM(), o), &amd64Params)
		if want != 0 {
			wantErrno(t, err, want)
			continue
		}
		if err != nil {
			t.Fatalf("%d scripts: %v", n, err)
		}
		if len(res.Argv) != n+2+1 || res.Argv[0] != "/elf" || res.ExePath != "/elf" {
			t.Errorf("%d scripts: argv %q", n, res.Argv)
		}
	}
	self := mapOpener{}
	self["/self"] = newMemFile([]byte("#!/self\n"))
	_, err := load(baseArgs(self["/self"], newFakeMM(), self), &amd64Params)
	wantErrno(t, err, linux.ELOOP)
}

func TestScriptErrors(t *testing.T) {
	o := mapOpener{"/dir": &memFile{data: []byte("#!/x\n"), mode: linux.S_IFDIR | 0o755}}
	_, err := load(baseArgs(newMemFile([]byte("#!/missing\n")), newFakeMM(), o), &amd64Params)
	wantErrno(t, err, linux.ENOENT)
	_, err = load(baseArgs(newMemFile([]byte("#!/dir\n")), newFakeMM(), o), &amd64Params)
	wantErrno(t, err, linux.EACCES)
	_, err = load(baseArgs(newMemFile([]byte("plain text\n")), newFakeMM(), o), &amd64Params)
	wantErrno(t, err, linux.ENOEXEC)
	_, err = load(baseArgs(newMemFile(nil), newFakeMM(), o), &amd64Params)
	wantErrno(t, err, linux.ENOEXEC)
}

func TestArgLimits(t *testing.T) {
	elfBytes := simpleELF().bytes()
	run := func(limit uint64, argv, envv []string) error {
		args := baseArgs(newMemFile(elfBytes), newFakeMM(), nil)
		args.Layout.StackLimit = limit
		args.Argv, args.Envv = argv, envv
		_, err := load(args, &amd64Params)
		return err
	}
	// One string: MAX_ARG_STRLEN includes the NUL.
	if err := run(8<<20, []string{"p", strings.Repeat("a", maxArgStrlen-1)}, nil); err != nil {
		t.Errorf("longest string: %v", err)
	}
	wantErrno(t, run(8<<20, []string{"p", strings.Repeat("a", maxArgStrlen)}, nil), linux.E2BIG)
	wantErrno(t, run(8<<20, []string{"p"}, []string{strings.Repeat("a", maxArgStrlen)}), linux.E2BIG)

	// Total: with an 8 MiB rlimit the budget is 2 MiB, less a pointer
	// per string; the strings include "/prog" (the filename) too.
	fill := func(total int) []string {
		// argv[0] "p" then 64 KiB strings, then one to make up the rest.
		argv := []string{"p"}
		left := total - len("/prog") - 1 - 2
		for left > 0 {
			n := min(left, 1<<16)
			argv = append(argv, strings.Repeat("z", n-1))
			left -= n
		}
		return argv
	}
	for _, tc := range []struct {
		limit  uint64
		budget int
	}{
		{8 << 20, 2 << 20},
		{256 << 10, 32 * 4096}, // a quarter is below 32 pages: 128 KiB
		{1 << 40, 6 << 20},     // capped at 3/4 of 8 MiB
		{^uint64(0), 6 << 20},  // unlimited
	} {
		argv := fill(tc.budget)
		ptrs := len(argv) * 8
		if len(fill(tc.budget-ptrs)) != len(argv) {
			t.Fatal("pointer count changed")
		}
		if err := run(tc.limit, fill(tc.budget-ptrs), nil); err != nil {
			t.Errorf("limit %#x: exactly the budget: %v", tc.limit, err)
		}
		if err := run(tc.limit, fill(tc.budget-ptrs+1), nil); err == nil {
			t.Errorf("limit %#x: one byte over the budget loaded", tc.limit)
		} else {
			wantErrno(t, err, linux.E2BIG)
		}
	}
}

// TestScriptArgsCount: the strings a script adds count against the same
// budget.
func TestScriptArgsCount(t *testing.T) {
	o := mapOpener{"/elf": newMemFile(simpleELF().bytes())}
	args := baseArgs(newMemFile([]byte("#!/elf "+strings.Repeat("q", 200)+"\n")), newFakeMM(), o)
	args.Layout.StackLimit = 256 << 10
	budget := 32*4096 - 8*2 - len("/prog") - 1
	// argv[0] is dropped; the interpreter, its argument and the path
	// are added.
	added := len("/elf") + 1 + 201 + len("/prog") + 1
	args.Argv = []string{"", strings.Repeat("z", budget-added-1)}
	args.Envv = nil
	if _, err := load(args, &amd64Params); err != nil {
		t.Fatalf("at the budget: %v", err)
	}
	args.Argv[1] += "z"
	args.Mapper = newFakeMM()
	_, err := load(args, &amd64Params)
	wantErrno(t, err, linux.E2BIG)
	_ = bytes.MinRead
}
