// Package lock implements the advisory file locks of one inode: the
// whole-file locks of flock(2), and the byte-range record locks of
// fcntl(2), both the classic POSIX kind (owned by a process's descriptor
// table, so released by any close of the file) and the open file
// description kind (F_OFD_*). It knows nothing of files or tasks: callers
// name owners with comparable values and supply a Blocker to sleep on.
//
// Semantics follow Linux's fs/locks.c as the fcntl(2) and flock(2) pages
// describe them: a lock conflicts with another owner's overlapping lock
// when either is a write lock; an owner's own locks never conflict, and
// setting a lock over an owner's existing range replaces it there
// (splitting, and merging adjacent ranges of one type). flock locks and
// record locks live in separate tables and never conflict with each
// other, as on Linux's local filesystems. A blocking POSIX request that
// would close a cycle of owners waiting on each other fails with EDEADLK.
package lock
