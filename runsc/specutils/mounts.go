package specutils

import (
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// IsBindMount reports whether m is a bind mount: type "bind", or any type
// (runc accepts "none" and "") with a bind or rbind option.
func IsBindMount(m *specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	return slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// IsReadOnly reports whether m's options make it read-only: the last of
// "ro" and "rw" wins, as with mount(8).
func IsReadOnly(m *specs.Mount) bool {
	ro := false
	for _, o := range m.Options {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

// BindSource is m's host path: Source taken relative to the bundle when
// it is not absolute.
func BindSource(m *specs.Mount, bundle string) string {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(bundle, src)
	}
	return filepath.Clean(src)
}
