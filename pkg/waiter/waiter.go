// Package waiter lets objects announce readiness events (readable,
// writable, hang-up, error) to whoever waits on them: poll, select, epoll,
// and blocking reads and writes inside the Sentry.
//
// An object embeds a Queue and calls Notify when its state changes; a
// waiter registers an Entry with the events it cares about and then
// re-checks the object's Readiness, so no wake-up between the check and the
// registration is lost.
package waiter

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// EventMask is a set of readiness events. The bits are those of poll(2)
// and epoll(7), which agree, so a mask converts to revents without
// translation.
type EventMask uint64

// Events.
const (
	EventIn     EventMask = linux.POLLIN
	EventPri    EventMask = linux.POLLPRI
	EventOut    EventMask = linux.POLLOUT
	EventErr    EventMask = linux.POLLERR
	EventHUp    EventMask = linux.POLLHUP
	EventNVal   EventMask = linux.POLLNVAL
	EventRdNorm EventMask = linux.POLLRDNORM
	EventRdBand EventMask = linux.POLLRDBAND
	EventWrNorm EventMask = linux.POLLWRNORM
	EventWrBand EventMask = linux.POLLWRBAND
	EventMsg    EventMask = linux.POLLMSG
	EventRdHUp  EventMask = linux.POLLRDHUP

	// ReadableEvents and WritableEvents are what "readable" and
	// "writable" mean to poll(2): the plain and the NORM bits together.
	ReadableEvents = EventIn | EventRdNorm
	WritableEvents = EventOut | EventWrNorm

	// AllEvents is every event a waiter may ask for. EventErr and
	// EventHUp are always reported, whether asked for or not.
	AllEvents = EventIn | EventPri | EventOut | EventErr | EventHUp | EventRdNorm |
		EventRdBand | EventWrNorm | EventWrBand | EventMsg | EventRdHUp
)

// Waitable is an object whose readiness can be polled and waited for.
type Waitable interface {
	// Readiness returns which of the events in mask are ready now.
	Readiness(mask EventMask) EventMask
	// EventRegister arranges for e to be notified of the events in its
	// mask. It fails when the object cannot be waited on (epoll_ctl
	// reports EPERM for such files).
	EventRegister(e *Entry) error
	// EventUnregister undoes EventRegister; it is a no-op for an entry
	// that is not registered.
	EventUnregister(e *Entry)
}

// EventListener receives notifications for an Entry. NotifyEvent is called
// with the queue's lock held: it must not block, and must not register or
// unregister entries on the same queue.
type EventListener interface {
	NotifyEvent(ready EventMask)
}

// Entry is one registration on a Queue. It belongs to at most one queue at
// a time.
//
// +stateify savable
type Entry struct {
	mask     EventMask
	listener EventListener
	// next and prev link the entry into its queue's list; list is that
	// list, nil when unregistered. All three are guarded by the queue's
	// mu. (The entry points at the list, not the Queue, because a Queue is
	// usually a field of a larger object, and checkpointing cannot keep a
	// pointer into the middle of an object.)
	next, prev *Entry
	list       *entryList
}

// entryList is a Queue's registered entries in registration order.
//
// +stateify savable
type entryList struct {
	head, tail *Entry
}

// Init sets what e listens for and who hears it. It must not be called
// while e is registered.
func (e *Entry) Init(listener EventListener, mask EventMask) {
	e.listener = listener
	e.mask = mask
}

// Mask returns the events e asked for.
func (e *Entry) Mask() EventMask { return e.mask }

// ChannelListener delivers notifications as a token on a channel of
// capacity 1, so a burst of events leaves one pending wake-up.
//
// +stateify savable
type ChannelListener struct {
	// A blocked waiter does not survive a checkpoint; it re-registers
	// after the restored task retries its system call.
	c chan struct{} // +state:nosave
}

// NotifyEvent implements EventListener.
func (l *ChannelListener) NotifyEvent(EventMask) {
	select {
	case l.c <- struct{}{}:
	default:
	}
}

// NewChannelEntry returns an entry listening for mask whose notifications
// arrive on the returned channel.
func NewChannelEntry(mask EventMask) (*Entry, <-chan struct{}) {
	l := &ChannelListener{c: make(chan struct{}, 1)}
	e := &Entry{}
	e.Init(l, mask)
	return e, l.c
}

// FuncListener adapts a function to EventListener; it cannot be saved and
// is meant for short-lived, in-process waits.
type FuncListener func(ready EventMask)

// NotifyEvent implements EventListener.
func (f FuncListener) NotifyEvent(ready EventMask) { f(ready) }

// Queue is the set of entries waiting on one object. Its zero value is
// empty and ready to use.
//
// +stateify savable
type Queue struct {
	mu sync.Mutex // +state:nosave
	// list is allocated at the first registration; guarded by mu.
	list *entryList
}

// EventRegister adds e to q. An entry already on q is left where it is.
func (q *Queue) EventRegister(e *Entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.list == nil {
		q.list = &entryList{}
	}
	l := q.list
	if e.list == l {
		return
	}
	if e.list != nil {
		panic("waiter: entry registered on two queues")
	}
	e.list = l
	e.prev = l.tail
	e.next = nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
}

// EventUnregister removes e from q if it is there.
func (q *Queue) EventUnregister(e *Entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.list
	if l == nil || e.list != l {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.next, e.prev, e.list = nil, nil, nil
}

// Notify tells every entry whose mask intersects mask (or that may hear
// errors and hang-ups, which are always delivered) which events occurred.
func (q *Queue) Notify(mask EventMask) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.list == nil {
		return
	}
	for e := q.list.head; e != nil; e = e.next {
		if ready := mask & (e.mask | EventErr | EventHUp); ready != 0 {
			e.listener.NotifyEvent(ready)
		}
	}
}

// Events returns the union of the masks of the registered entries, so an
// object can skip work nobody waits for.
func (q *Queue) Events() EventMask {
	q.mu.Lock()
	defer q.mu.Unlock()
	var m EventMask
	if q.list != nil {
		for e := q.list.head; e != nil; e = e.next {
			m |= e.mask
		}
	}
	return m
}

// IsEmpty reports whether no entry is registered.
func (q *Queue) IsEmpty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.list == nil || q.list.head == nil
}

// AlwaysReady is a Waitable for objects that never block, such as regular
// files: every event asked for is ready, and registration is accepted and
// never notified.
//
// +stateify savable
type AlwaysReady struct{}

// Readiness implements Waitable.
func (AlwaysReady) Readiness(mask EventMask) EventMask {
	return mask & (ReadableEvents | WritableEvents)
}

// EventRegister implements Waitable.
func (AlwaysReady) EventRegister(*Entry) error { return nil }

// EventUnregister implements Waitable.
func (AlwaysReady) EventUnregister(*Entry) {}
