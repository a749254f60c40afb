// Package specutils reads and checks what an OCI bundle asks for: the
// config.json, the container id, the root file system, the mounts and the
// signal names runsc's commands accept. It holds no state and starts
// nothing, so every command can validate its input before it changes
// anything.
package specutils

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxConfigSize bounds the config.json runsc reads; real ones are a few
// kilobytes.
const maxConfigSize = 16 << 20

// validID is the container id syntax runc accepts: letters, digits, and
// _ + - . (but not "." or "..", which would name a directory other than
// the container's own under --root).
var validID = regexp.MustCompile(`^[\w+.-]+$`)

// ValidateID reports whether id can name a container.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("container id cannot be empty")
	}
	if len(id) > 1024 {
		return fmt.Errorf("invalid container id %.32q...: longer than 1024 characters", id)
	}
	if !validID.MatchString(id) || id == "." || id == ".." {
		return fmt.Errorf("invalid container id %q: only letters, digits and _ + - . are allowed", id)
	}
	return nil
}

// ReadSpec reads and checks bundle/config.json. bundle must be absolute
// (see AbsBundle).
func ReadSpec(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the bundle's config: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxConfigSize+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if buf.Len() > maxConfigSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxConfigSize)
	}
	var spec specs.Spec
	if err := json.Unmarshal(buf.Bytes(), &spec); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if err := Validate(&spec, bundle); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &spec, nil
}

// Validate checks that spec has what runsc needs to start a container
// from it, and that its root file system exists.
func Validate(spec *specs.Spec, bundle string) error {
	if spec.Process == nil {
		return fmt.Errorf("no process to run (process is missing)")
	}
	if len(spec.Process.Args) == 0 {
		return fmt.Errorf("process.args is empty")
	}
	if spec.Process.Cwd == "" || !filepath.IsAbs(spec.Process.Cwd) {
		return fmt.Errorf("process.cwd must be an absolute path, got %q", spec.Process.Cwd)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return fmt.Errorf("root.path is missing")
	}
	rootfs := RootfsPath(spec, bundle)
	st, err := os.Stat(rootfs)
	if err != nil {
		return fmt.Errorf("root file system %s: %w", rootfs, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("root file system %s is not a directory", rootfs)
	}
	for i, m := range spec.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d].destination %q is not an absolute path", i, m.Destination)
		}
	}
	return nil
}

// AbsBundle is the bundle directory as an absolute, cleaned path: the
// default is the caller's working directory, as runc's.
func AbsBundle(bundle string) (string, error) {
	if bundle == "" {
		bundle = "."
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return "", fmt.Errorf("bundle %q: %w", bundle, err)
	}
	return abs, nil
}

// RootfsPath is the host path of the container's root: root.path, taken
// relative to the bundle when it is not absolute (ctr's "rootfs").
func RootfsPath(spec *specs.Spec, bundle string) string {
	p := spec.Root.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	return filepath.Clean(p)
}
