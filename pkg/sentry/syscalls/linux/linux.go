// Package linux implements the Linux system call ABI for the Sentry: one
// handler per syscall, and the per-architecture tables that dispatch to them.
//
// The tables (syscalls_<arch>_generated.go) and docs/compatibility.md are
// generated from syscalls.spec, so that what is dispatched, what fails with
// ENOSYS and what users are told cannot disagree. Edit the spec, not the
// generated files, then run go generate on this package.
package linux

import "appkernel.dev/appkernel/pkg/sentry/kernel"

//go:generate go run appkernel.dev/appkernel/tools/gensyscalls -spec syscalls.spec -out . -docs ../../../../docs/compatibility.md

// Importing this package makes the table of the architecture being built
// available through kernel.LookupSyscallTable.
func init() {
	kernel.RegisterSyscallTable(Table)
}
