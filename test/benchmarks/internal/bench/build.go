package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CFlags are the flags every workload is built with: static, so that a
// binary runs the same in any root the sandbox gives it, and optimised, so
// that the loop around the measured call costs next to nothing.
var CFlags = []string{"-static", "-O2", "-Wall", "-Wextra", "-Werror"}

// ErrNoCompiler means workloads cannot be built on this machine; the
// harness skips them with a message rather than failing.
var ErrNoCompiler = errors.New("no C compiler for static binaries")

// Builder compiles workloads from a source tree into a directory.
type Builder struct {
	// Dir receives the sources (under src/) and the binaries.
	Dir string
	gcc string
}

// NewBuilder copies every file of the source tree srcs (the workloads'
// .c and .h files) into dir/src and checks that gcc can link a static
// binary there; it returns an error wrapping ErrNoCompiler when it cannot.
func NewBuilder(ctx context.Context, srcs fs.FS, dir string) (*Builder, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return nil, fmt.Errorf("%w: gcc not found in PATH", ErrNoCompiler)
	}
	b := &Builder{Dir: dir, gcc: gcc}
	if err := os.MkdirAll(b.srcDir(), 0o755); err != nil {
		return nil, err
	}
	if err := os.CopyFS(b.srcDir(), srcs); err != nil {
		return nil, fmt.Errorf("copying workload sources: %w", err)
	}
	probe := filepath.Join(dir, "static_probe.c")
	if err := os.WriteFile(probe, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, gcc, "-static", "-o", strings.TrimSuffix(probe, ".c"), probe).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w: gcc -static failed (is the static libc, libc6-dev, installed?): %v: %s", ErrNoCompiler, err, FirstLine(string(out)))
	}
	return b, nil
}

func (b *Builder) srcDir() string { return filepath.Join(b.Dir, "src") }

// Build compiles src/NAME.c into an absolute path NAME in the build
// directory and returns it.
func (b *Builder) Build(ctx context.Context, name string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(b.Dir, name))
	if err != nil {
		return "", err
	}
	args := append(append([]string(nil), CFlags...), "-o", bin, filepath.Join(b.srcDir(), name+".c"))
	if out, err := exec.CommandContext(ctx, b.gcc, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// Source returns the absolute path of the copied source file name, for
// workloads that run from source (scripts).
func (b *Builder) Source(name string) string {
	p, err := filepath.Abs(filepath.Join(b.srcDir(), name))
	if err != nil {
		return filepath.Join(b.srcDir(), name)
	}
	return p
}
