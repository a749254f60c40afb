// Command stateify writes the pkg/state save/load methods for the types of
// one Go package that carry a "// +stateify savable" comment, so kernel
// objects can be checkpointed without hand-written serialization code.
//
// A package opts in with
//
//	//go:generate go run appkernel.dev/appkernel/tools/stateify
//
// and go generate runs it in the package directory. It reads the package's
// non-test, non-generated .go files and writes <pkg>_state_autogen.go, plus
// one <file>_state_autogen[_os][_arch].go per source file that has build
// constraints, so per-architecture types get per-architecture methods.
//
// Field directives, in the field's doc or line comment:
//
//	// +state:nosave   the field is not saved; it is left as is on load
//
// A savable type may declare beforeSave() (run before it is written) and
// afterLoad() (run once the whole graph is loaded); the generated methods call
// them.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.dir, "dir", ".", "directory of the package to generate for")
	flag.StringVar(&cfg.out, "out", "", "file for types without build constraints (default <pkg>_state_autogen.go in -dir)")
	flag.StringVar(&cfg.pkgPath, "pkgpath", "", "import path of the package, used in type names (default: derived from go.mod)")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: stateify [-dir DIR] [-out FILE] [-pkgpath PATH]")
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "stateify:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	outputs, err := generate(cfg)
	if err != nil {
		return err
	}
	written := map[string]bool{}
	for _, o := range outputs {
		written[filepath.Clean(o.path)] = true
		if old, err := os.ReadFile(o.path); err == nil && bytes.Equal(old, o.src) {
			continue // leave the mtime alone so builds stay cached
		}
		if err := os.WriteFile(o.path, o.src, 0o644); err != nil {
			return err
		}
	}
	return removeStale(cfg.dir, written)
}

// removeStale deletes outputs of earlier runs that this run did not produce,
// e.g. after the last savable type left a per-architecture file.
func removeStale(dir string, keep map[string]bool) error {
	matches, err := filepath.Glob(filepath.Join(dir, "*_state_autogen*.go"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if keep[filepath.Clean(m)] {
			continue
		}
		src, err := os.ReadFile(m)
		if err != nil {
			return err
		}
		if strings.HasPrefix(string(src), header) {
			if err := os.Remove(m); err != nil {
				return err
			}
		}
	}
	return nil
}
