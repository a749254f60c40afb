// Package auth holds the identity a task acts with: kernel user and group
// IDs, the credentials of a task (real, effective, saved and filesystem IDs,
// supplementary groups, capability sets), and the discretionary access
// control rules that filesystems use to decide whether those credentials
// may read, write or search an object.
//
// IDs are kernel IDs (KUID, KGID): the values the kernel compares. User
// namespaces map them to the IDs an application sees; this package keeps a
// UserNamespace in every Credentials so that the mapping can be added
// without changing callers, but for now every namespace maps IDs 1:1.
package auth

//go:generate go run appkernel.dev/appkernel/tools/stateify
