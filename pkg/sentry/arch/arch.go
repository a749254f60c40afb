// Package arch describes the machine the sandboxed program runs on, as the
// Sentry sees it: registers, signal frames and how system call arguments are
// read, for each supported architecture (amd64, arm64).
//
// Nothing here touches the host: these are plain values copied out of a
// stopped application thread by the platform.
package arch

//go:generate go run appkernel.dev/appkernel/tools/stateify
