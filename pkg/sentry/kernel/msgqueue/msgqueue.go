// Package msgqueue implements System V message queues (msgget(2),
// msgsnd(2), msgrcv(2), msgctl(2)): one Registry per IPC namespace, typed
// messages kept in arrival order, senders that wait while a queue is full
// by msg_qbytes and receivers that wait for a message of the type they
// select.
//
// Waiting is by broadcast: each change to a queue closes its channel and
// every blocked sender or receiver looks again.
package msgqueue

import (
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/kernel/ipc"
)

// Blocker is what senders and receivers sleep with; kernel.Task
// implements it.
type Blocker interface {
	Block(ch <-chan struct{}) error
	BlockWithDeadline(ch <-chan struct{}, deadline time.Time) error
}

// Registry holds the message queues of one IPC namespace.
type Registry struct {
	// mu guards everything below and every queue's state.
	mu  sync.Mutex
	ids *ipc.Registry[*Queue]
	// totalMsgs and totalBytes are over every queue, for MSG_INFO.
	totalMsgs, totalBytes int

	// Limits: kernel.msgmax, msgmnb, msgmni.
	msgMax, msgMnb, msgMni int
}

// NewRegistry returns an empty registry with Linux's default limits.
func NewRegistry() *Registry {
	return &Registry{
		ids:    ipc.NewRegistry[*Queue](),
		msgMax: linux.MSGMAX,
		msgMnb: linux.MSGMNB,
		msgMni: linux.MSGMNI,
	}
}

// Limits returns kernel.msgmax, msgmnb and msgmni.
func (r *Registry) Limits() (msgMax, msgMnb, msgMni int) { return r.msgMax, r.msgMnb, r.msgMni }

// Queue is one message queue.
type Queue struct {
	r *Registry

	// The fields below are guarded by r.mu.
	perm ipc.Perm
	msgs []*Message
	// cbytes is the bytes of text queued; qbytes the most allowed.
	cbytes, qbytes uint64
	// Times are seconds since the epoch; pids are thread group IDs.
	stime, rtime, ctime int64
	lspid, lrpid        int32
	// dead is set by IPC_RMID; blocked callers then fail with EIDRM.
	dead bool
	// changed is closed and replaced at every change.
	changed chan struct{}
}

// Message is one message.
type Message struct {
	Type int64
	Text []byte
}

// IPCPerm implements ipc.Object.
func (q *Queue) IPCPerm() *ipc.Perm { return &q.perm }

func (q *Queue) wakeLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Get implements msgget(2).
func (r *Registry) Get(creds *auth.Credentials, key int32, flags int32) (int32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, err := r.ids.Get(ipc.GetArgs[*Queue]{
		Key:   key,
		Flags: flags,
		Creds: creds,
		Max:   r.msgMni,
		Create: func() (*Queue, error) {
			return &Queue{
				r:       r,
				perm:    ipc.NewPerm(creds, key, flags),
				qbytes:  uint64(r.msgMnb),
				ctime:   ipc.Now(),
				changed: make(chan struct{}),
			}, nil
		},
	})
	if err != nil {
		return 0, err
	}
	return q.perm.ID, nil
}

// lookupLocked finds queue id and checks creds' access.
func (r *Registry) lookupLocked(creds *auth.Credentials, id int32, access uint32) (*Queue, error) {
	q, err := r.ids.Lookup(id)
	if err != nil {
		return nil, err
	}
	if !q.perm.Access(creds, access) {
		return nil, linux.EACCES
	}
	return q, nil
}

// wait sleeps on ch; an interruption is ERESTARTNOHAND, as msgsnd and
// msgrcv are restarted only when no handler ran.
func wait(b Blocker, ch <-chan struct{}) error {
	if err := b.Block(ch); err != nil {
		return linux.ERESTARTNOHAND
	}
	return nil
}

// Send implements msgsnd(2) for the thread group pid.
func (r *Registry) Send(creds *auth.Credentials, b Blocker, id int32, m *Message, flags int32, pid int32) error {
	if len(m.Text) > r.msgMax || id < 0 {
		return linux.EINVAL
	}
	if m.Type < 1 {
		return linux.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	q, err := r.lookupLocked(creds, id, 0222)
	if err != nil {
		return err
	}
	for {
		if q.dead {
			return linux.EIDRM
		}
		if uint64(len(m.Text))+q.cbytes <= q.qbytes && uint64(len(q.msgs))+1 <= q.qbytes {
			break
		}
		if flags&linux.IPC_NOWAIT != 0 {
			return linux.EAGAIN
		}
		ch := q.changed
		r.mu.Unlock()
		err := wait(b, ch)
		r.mu.Lock()
		if err != nil {
			return err
		}
	}
	q.msgs = append(q.msgs, m)
	q.cbytes += uint64(len(m.Text))
	r.totalMsgs++
	r.totalBytes += len(m.Text)
	q.lspid = pid
	q.stime = ipc.Now()
	q.wakeLocked()
	return nil
}

// RecvArgs are msgrcv(2)'s arguments.
type RecvArgs struct {
	Creds *auth.Credentials
	ID    int32
	// Size is msgsz, the room for text.
	Size  int64
	Type  int64
	Flags int32
	PID   int32
}

// Receive implements msgrcv(2): it returns the message, with Text cut to
// Size under MSG_NOERROR. With MSG_COPY the message at index Type is
// copied and left in the queue.
func (r *Registry) Receive(b Blocker, a RecvArgs) (*Message, error) {
	if a.ID < 0 || a.Size < 0 {
		return nil, linux.EINVAL
	}
	copyMode := a.Flags&linux.MSG_COPY != 0
	if copyMode && (a.Flags&linux.MSG_EXCEPT != 0 || a.Flags&linux.IPC_NOWAIT == 0) {
		return nil, linux.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	q, err := r.lookupLocked(a.Creds, a.ID, 0444)
	if err != nil {
		return nil, err
	}
	for {
		if q.dead {
			return nil, linux.EIDRM
		}
		if i := q.findLocked(a.Type, a.Flags); i >= 0 {
			m := q.msgs[i]
			if int64(len(m.Text)) > a.Size && a.Flags&linux.MSG_NOERROR == 0 {
				return nil, linux.E2BIG
			}
			out := &Message{Type: m.Type, Text: m.Text}
			if int64(len(out.Text)) > a.Size {
				out.Text = out.Text[:a.Size]
			}
			if copyMode {
				return out, nil
			}
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			q.cbytes -= uint64(len(m.Text))
			r.totalMsgs--
			r.totalBytes -= len(m.Text)
			q.lrpid = a.PID
			q.rtime = ipc.Now()
			q.wakeLocked()
			return out, nil
		}
		if a.Flags&linux.IPC_NOWAIT != 0 {
			return nil, linux.ENOMSG
		}
		ch := q.changed
		r.mu.Unlock()
		err := wait(b, ch)
		r.mu.Lock()
		if err != nil {
			return nil, err
		}
	}
}

// findLocked returns the index of the message msgrcv's type and flags
// select, or -1.
func (q *Queue) findLocked(typ int64, flags int32) int {
	switch {
	case flags&linux.MSG_COPY != 0:
		if typ >= 0 && typ < int64(len(q.msgs)) {
			return int(typ)
		}
		return -1
	case typ == 0:
		if len(q.msgs) > 0 {
			return 0
		}
		return -1
	case typ < 0:
		// The first message of the lowest type not above |typ|.
		limit := -typ
		if typ == -1<<63 {
			limit = 1<<63 - 1
		}
		best := -1
		for i, m := range q.msgs {
			if m.Type <= limit && (best < 0 || m.Type < q.msgs[best].Type) {
				best = i
			}
		}
		return best
	case flags&linux.MSG_EXCEPT != 0:
		for i, m := range q.msgs {
			if m.Type != typ {
				return i
			}
		}
		return -1
	default:
		for i, m := range q.msgs {
			if m.Type == typ {
				return i
			}
		}
		return -1
	}
}
