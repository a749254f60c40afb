// Package abi is the root of the packages that describe the binary
// interfaces the Sentry must reproduce exactly: the numbers, flags and
// struct layouts that unmodified Linux programs expect.
//
// The packages below it hold data only, no behaviour, and import nothing
// from the rest of appkernel, so that every other part of the project can
// depend on them without creating cycles:
//
//   - abi/linux: Linux syscall ABI constants and structs for amd64 and arm64.
//   - abi/marshal: the interface through which ABI structs are encoded to and
//     decoded from the bytes of application memory.
package abi
