// Command gensyscalls turns the syscall spec (one line per Linux system call:
// name, number on each architecture, handler, support level, note) into the
// per-architecture dispatch tables of package linux and into the
// compatibility report in docs/. Keeping one spec means the tables, the
// ENOSYS behaviour and what users are told cannot drift apart.
//
// It is run by go generate from pkg/sentry/syscalls/linux:
//
//	gensyscalls -spec syscalls.spec -out . -docs ../../../../docs/compatibility.md
//
// Paths are relative to the working directory. Files are rewritten only
// when their content changes.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gensyscalls:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gensyscalls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specFile := fs.String("spec", "syscalls.spec", "syscall spec to read")
	outDir := fs.String("out", ".", "directory for the generated per-arch Go tables")
	docsFile := fs.String("docs", "", "compatibility report to write (Markdown); empty skips it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	f, err := os.Open(*specFile)
	if err != nil {
		return err
	}
	defer f.Close()
	spec, err := ParseSpec(f, *specFile)
	if err != nil {
		return err
	}

	// Generated comments name the spec by its path in the repository, not
	// as given on the command line, so the output does not depend on where
	// the generator ran from.
	shownPath := repoRelative(*specFile)

	outputs := map[string][]byte{}
	for _, arch := range arches {
		src, err := generateTable(spec, arch, shownPath)
		if err != nil {
			return err
		}
		outputs[filepath.Join(*outDir, tableFileName(arch))] = src
	}
	if *docsFile != "" {
		outputs[*docsFile] = generateDocs(spec, shownPath)
	}
	var errs []error
	for path, content := range outputs {
		errs = append(errs, writeIfChanged(path, content))
	}
	return errors.Join(errs...)
}

// repoRelative returns path relative to the root of the enclosing Go module,
// in slash form, or its base name if there is no module.
func repoRelative(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Base(path)
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, abs)
			if err != nil {
				break
			}
			return filepath.ToSlash(rel)
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return filepath.Base(path)
}

// writeIfChanged leaves unchanged files alone so that regenerating does not
// touch modification times and rebuild dependants.
func writeIfChanged(path string, content []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	return os.WriteFile(path, content, 0o644)
}
