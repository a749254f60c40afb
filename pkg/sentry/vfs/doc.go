// Package vfs is the Sentry's virtual file system: the filesystem-independent
// layer between system calls and file system implementations.
//
// It owns the object model that every filesystem shares:
//
//   - Filesystem: one mounted instance of a filesystem type.
//   - Dentry: a cached name in a Filesystem's tree, pointing at an Inode
//     that the filesystem implements; mounts attach to dentries.
//   - Mount and MountNamespace: the mount tree, with per-mount flags.
//   - VirtualDentry: a (Mount, Dentry) pair, the unit paths resolve to.
//   - FileDescription: an open file, reference counted, with status flags
//     and an offset; a filesystem supplies its FileDescriptionImpl.
//   - FDTable: a process's descriptor table.
//
// Path resolution (including symlinks, "..", mount crossings, chroot
// confinement and the openat2 RESOLVE_* restrictions) and the generic
// parts of each operation (permission checks, read-only mounts, sticky
// directories, rename loops, busy mount points) live here, so each
// filesystem implements only per-inode operations.
//
// Operations that may block take a context.Context from which a Blocker
// is obtained (see BlockerFromContext).
package vfs

//go:generate go run appkernel.dev/appkernel/tools/stateify
