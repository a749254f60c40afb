package kernel

// Task is one application thread as the Sentry sees it.
//
// It is a placeholder so that syscall handler signatures can be fixed now;
// the task model (thread group, credentials, signal state, memory manager,
// file table) arrives with the Sentry.
type Task struct{}
