package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"appkernel.dev/appkernel/pkg/waiter"
)

// Signal-queued notifications, for signalfd. A signalfd is typically used
// with its signals blocked, and queueing a blocked signal interrupts no
// task, so readers and pollers of a signalfd wait on a per-process queue
// that is notified whenever a signal is queued to the process or to one
// of its threads.
//
// The queues live in a side table keyed by a weak pointer to the thread
// group, and are made on first use, so that processes without a signalfd
// pay one atomic load per signal. A queue holds only waiters of blocked
// calls, which re-register after a restore; it is not saved.

var signalQueues struct {
	// n counts the entries of m, so notification can skip the lookup.
	n atomic.Int64
	// m maps weak.Pointer[ThreadGroup] to *waiter.Queue.
	m sync.Map
}

// SignalQueue returns the queue notified with waiter.EventIn each time a
// signal is queued for tg or one of its tasks.
func (tg *ThreadGroup) SignalQueue() *waiter.Queue {
	k := weak.Make(tg)
	if q, ok := signalQueues.m.Load(k); ok {
		return q.(*waiter.Queue)
	}
	q, loaded := signalQueues.m.LoadOrStore(k, &waiter.Queue{})
	if !loaded {
		signalQueues.n.Add(1)
		runtime.AddCleanup(tg, func(k weak.Pointer[ThreadGroup]) {
			signalQueues.m.Delete(k)
			signalQueues.n.Add(-1)
		}, k)
	}
	return q.(*waiter.Queue)
}

// notifySignalQueuedLocked tells tg's signalfd waiters that a signal was
// queued. sendSignalLocked must call it after a successful enqueue, with
// tg.signalMu held: the waiters' listeners take only waiter and epoll
// ready-list locks, never signalMu.
func (tg *ThreadGroup) notifySignalQueuedLocked() {
	if signalQueues.n.Load() == 0 {
		return
	}
	if q, ok := signalQueues.m.Load(weak.Make(tg)); ok {
		q.(*waiter.Queue).Notify(waiter.EventIn)
	}
}
