package systrap

import (
	"errors"

	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// New reports that the platform is not available on arm64.
func New(memFD int) (platform.Platform, error) {
	return nil, errors.New("systrap: not supported on arm64 yet; use --platform=ptrace")
}

// RuntimeSyscalls is empty: the platform never runs on arm64.
var RuntimeSyscalls []string
