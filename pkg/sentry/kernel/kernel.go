// Package kernel is the core of the Sentry: tasks, thread groups, PID
// namespaces, signals, futexes, timers, credentials and scheduling, and the
// per-architecture system call tables that route an application's syscalls
// to their handlers.
package kernel
