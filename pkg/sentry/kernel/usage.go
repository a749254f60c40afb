package kernel

import "time"

// Usage is CPU time and related accounting for rusage and times(2).
//
// +stateify savable
type Usage struct {
	User, System time.Duration
	// MaxRSS is in kilobytes, as ru_maxrss is.
	MaxRSS int64
}

// add accumulates o into u, keeping the larger MaxRSS, as Linux does for
// RUSAGE_CHILDREN.
func (u *Usage) add(o Usage) {
	u.User += o.User
	u.System += o.System
	u.MaxRSS = max(u.MaxRSS, o.MaxRSS)
}
