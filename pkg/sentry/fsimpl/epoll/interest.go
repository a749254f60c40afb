package epoll

import (
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// key identifies a registration. Linux keys registrations by the open file
// and the descriptor number together, so one file may be added twice
// through two descriptors (dup).
//
// +stateify savable
type key struct {
	file *vfs.FileDescription
	num  int32
}

// interest is one registration. It listens on the file's queue and, when
// notified, puts itself on the epoll's ready list; whether it is really
// ready is decided when the list is scanned.
//
// +stateify savable
type interest struct {
	ep *EventPoll
	key
	// entry is registered on the file with mask (plus error and hang-up)
	// as its events, so only events asked for queue the interest.
	entry waiter.Entry

	// mask, flags and data are guarded by ep.mu. mask holds the poll
	// bits asked for plus EventErr and EventHUp; flags the EPOLLET,
	// EPOLLONESHOT, EPOLLEXCLUSIVE and EPOLLWAKEUP bits.
	mask  waiter.EventMask
	flags uint32
	data  uint64
	// child is the watched epoll, if the file is one; guarded by ep.mu.
	child *EventPoll

	// queued says the interest is on the ready list or on a scan's
	// private copy of it; disarmed says a one-shot interest fired and
	// must not be queued until EPOLL_CTL_MOD. next and prev link the
	// list. All guarded by ep.readyMu.
	queued     bool
	disarmed   bool
	next, prev *interest
}

// NotifyEvent implements waiter.EventListener. It runs under the watched
// file's queue lock.
func (it *interest) NotifyEvent(waiter.EventMask) {
	ep := it.ep
	ep.readyMu.Lock()
	if it.disarmed || it.queued {
		ep.readyMu.Unlock()
		return
	}
	it.queued = true
	ep.ready.pushBack(it)
	ep.readyMu.Unlock()
	ep.queue.Notify(waiter.ReadableEvents)
}

// interestList is a doubly linked list of interests.
//
// +stateify savable
type interestList struct {
	head, tail *interest
}

func (l *interestList) empty() bool { return l.head == nil }

func (l *interestList) pushBack(it *interest) {
	it.next, it.prev = nil, l.tail
	if l.tail != nil {
		l.tail.next = it
	} else {
		l.head = it
	}
	l.tail = it
}

func (l *interestList) remove(it *interest) {
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		l.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		l.tail = it.prev
	}
	it.next, it.prev = nil, nil
}

func (l *interestList) popFront() *interest {
	it := l.head
	if it != nil {
		l.remove(it)
	}
	return it
}

// prependList moves all of o to the front of l.
func (l *interestList) prependList(o *interestList) {
	if o.head == nil {
		return
	}
	if l.head == nil {
		*l = *o
	} else {
		o.tail.next = l.head
		l.head.prev = o.tail
		l.head = o.head
	}
	*o = interestList{}
}
