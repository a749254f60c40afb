// Package version records which runsc this is.
package version

import "github.com/opencontainers/runtime-spec/specs-go"

// Version is runsc's own version; release builds override it with
// -ldflags "-X appkernel.dev/appkernel/runsc/version.Version=...".
var Version = "0.1.0-dev"

// OCISpec is the version of the OCI runtime spec runsc implements.
var OCISpec = specs.Version
