package kernel

import (
	"encoding/binary"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// This file is Linux native AIO's context side (io_setup(2) and friends):
// the per-address-space table of contexts, the completion ring mapped into
// the process, and waiting for completions. The system call layer performs
// the I/O itself and reports each result with AIOContext.Complete.
//
// Contexts belong to an address space, as on Linux (mm->ioctx_table): a
// fork's new address space has none (its copy of the ring's mapping
// names no context of its own), threads and CLONE_VM children share them, and exec, which replaces the
// address space, drops them. They die when the address space is released
// (see aioDropReleased).
//
// Limits: contexts are not checkpointed; mremap of a ring does not move
// its context's ID (Linux follows the move).

// Layout of the ring Linux maps at the context's address (struct aio_ring
// followed by struct io_event entries, fs/aio.c).
const (
	aioRingMagic          = 0xa10a10a1
	aioRingCompatFeatures = 1
	aioRingHeaderSize     = 32
	// AIOEventSize is sizeof(struct io_event).
	AIOEventSize = 32

	aioRingOffID   = 0
	aioRingOffNr   = 4
	aioRingOffHead = 8
	aioRingOffTail = 12

	// AIOMaxNr is /proc/sys/fs/aio-max-nr, the system-wide bound on the
	// nr_events of live contexts. It is Linux's default and, with
	// sysctls read-only in the sandbox, fixed.
	AIOMaxNr = 65536
)

// AIOEvent is struct io_event.
type AIOEvent struct {
	Data uint64
	Obj  uint64
	Res  int64
	Res2 int64
}

// aioState is the kernel's share: every address space's contexts and the
// aio-nr count.
type aioState struct {
	// mu guards the fields below.
	mu sync.Mutex
	// nr is /proc/sys/fs/aio-nr: the sum of the nr_events arguments of
	// the live contexts.
	nr uint64
	// tables holds each address space's contexts, indexed by the ID in
	// their ring (nil for a free slot).
	tables map[*mm.MemoryManager][]*AIOContext
}

// AIOContext is one io_setup(2) context.
type AIOContext struct {
	k  *Kernel
	mm *mm.MemoryManager
	// id is the slot in the address space's table, also in the ring.
	id uint32
	// addr is the ring's address, which is the aio_context_t; size its
	// length.
	addr, size uintptr
	// maxReqs is io_setup's nr_events, counted in aio-nr.
	maxReqs uint32
	// nr is the number of io_event slots in the ring.
	nr uint32
	// ring holds the ring's pages; the Sentry writes events and the tail
	// through it, and reads the head the application advances.
	ring *memmap.PageStore

	// mu guards the fields below and the ring's contents.
	mu sync.Mutex
	// tail is the kernel's copy of the ring's tail (the application may
	// scribble on the one in the ring).
	tail uint32
	// inflight counts requests submitted and not yet completed.
	inflight int
	// dead is set by io_destroy and when the address space goes.
	dead bool
	// cancels holds the cancellable requests (IOCB_CMD_POLL) by the
	// address of their iocb.
	cancels map[uint64]func()
	// changed is closed, and replaced, when an event is added or the
	// context dies, waking io_getevents.
	changed chan struct{}
	// idle is closed when the context is dead and no request is in
	// flight; io_destroy waits for it.
	idle chan struct{}
}

// RingSize returns the number of io_event slots in the ring, which also
// bounds how many iocbs one io_submit looks at.
func (c *AIOContext) RingSize() uint32 { return c.nr }

// ID returns the context's aio_context_t.
func (c *AIOContext) ID() uint64 { return uint64(c.addr) }

// aioRingEvents returns how many io_event slots Linux's ring gets for
// io_setup(nrEvents) on a machine with cpus CPUs, or the errno io_setup
// fails with. Linux doubles the request (at least 4 per CPU) so that
// per-CPU batching of free slots cannot starve the caller, adds two, and
// then fills whole pages.
func aioRingEvents(nrEvents uint32, cpus int) (nr uint32, pages uintptr, err error) {
	n := max(nrEvents, uint32(cpus)*4)
	n *= 2 // wraps as in Linux's unsigned arithmetic
	if n > 0x10000000/AIOEventSize {
		return 0, 0, linux.EINVAL
	}
	if n == 0 || nrEvents > AIOMaxNr {
		return 0, 0, linux.EAGAIN
	}
	n += 2
	size := uintptr(aioRingHeaderSize) + uintptr(n)*AIOEventSize
	pages = (size + linux.PageSize - 1) / linux.PageSize
	nr = uint32((pages*linux.PageSize - aioRingHeaderSize) / AIOEventSize)
	return nr, pages, nil
}

// AIOSetup implements the kernel side of io_setup(2): it creates a context
// with room for nrEvents requests in t's address space, maps its ring and
// returns it. nrEvents is non-zero (the caller checks).
func (t *Task) AIOSetup(nrEvents uint32) (*AIOContext, error) {
	k := t.k
	k.aioDropReleased()
	nr, pages, err := aioRingEvents(nrEvents, NumCPUs())
	if err != nil {
		return nil, err
	}
	m := t.MemoryManager()
	size := pages * linux.PageSize
	ring := memmap.NewPageStore(k.MemoryFile, "/[aio] (deleted)")
	if err := ring.Truncate(uint64(size)); err != nil {
		ring.DecRef()
		return nil, err
	}
	if err := ring.Allocate(0, uint64(size)); err != nil {
		ring.DecRef()
		return nil, linux.EAGAIN
	}
	var hdr [aioRingHeaderSize]byte
	le := binary.LittleEndian
	le.PutUint32(hdr[aioRingOffID:], ^uint32(0))
	le.PutUint32(hdr[aioRingOffNr:], nr)
	le.PutUint32(hdr[16:], aioRingMagic)
	le.PutUint32(hdr[20:], aioRingCompatFeatures)
	le.PutUint32(hdr[24:], 0) // incompat_features
	le.PutUint32(hdr[28:], aioRingHeaderSize)
	if _, err := ring.WriteAt(hdr[:], 0); err != nil {
		ring.DecRef()
		return nil, err
	}
	// A shared read-write mapping; unlike what older documentation says,
	// Linux 6.x copies it into a fork like any shared mapping (the child
	// still has no context: its address space's table is empty).
	addr, err := m.MMap(mm.MMapOpts{
		Length:   size,
		Perms:    platform.ReadWrite,
		MaxPerms: platform.AnyAccess,
		Mappable: ring,
	})
	if err != nil {
		ring.DecRef()
		return nil, err
	}
	c := &AIOContext{
		k:       k,
		mm:      m,
		addr:    addr,
		size:    size,
		maxReqs: nrEvents,
		nr:      nr,
		ring:    ring,
		cancels: make(map[uint64]func()),
		changed: make(chan struct{}),
		idle:    make(chan struct{}),
	}

	s := &k.aio
	s.mu.Lock()
	if s.nr+uint64(nrEvents) > AIOMaxNr {
		s.mu.Unlock()
		_ = m.MUnmap(addr, size)
		ring.DecRef()
		return nil, linux.EAGAIN
	}
	s.nr += uint64(nrEvents)
	if s.tables == nil {
		s.tables = make(map[*mm.MemoryManager][]*AIOContext)
	}
	tab := s.tables[m]
	id := len(tab)
	for i, o := range tab {
		if o == nil {
			id = i
			break
		}
	}
	if id == len(tab) {
		tab = append(tab, nil)
	}
	tab[id] = c
	s.tables[m] = tab
	c.id = uint32(id)
	s.mu.Unlock()

	var b [4]byte
	le.PutUint32(b[:], c.id)
	_, _ = ring.WriteAt(b[:], aioRingOffID)
	return c, nil
}

// LookupAIOContext finds the context id names in t's address space. As in
// Linux, the slot number is read from the ring at id in application
// memory, so a ring the application unmapped (or a made-up id) is EINVAL.
func (t *Task) LookupAIOContext(id uint64) (*AIOContext, error) {
	var b [4]byte
	if id == 0 || uint64(uintptr(id)) != id {
		return nil, linux.EINVAL
	}
	if n, err := t.mm.CopyIn(uintptr(id)+aioRingOffID, b[:]); err != nil || n != len(b) {
		return nil, linux.EINVAL
	}
	slot := binary.LittleEndian.Uint32(b[:])
	s := &t.k.aio
	s.mu.Lock()
	defer s.mu.Unlock()
	tab := s.tables[t.mm]
	if uint64(slot) >= uint64(len(tab)) {
		return nil, linux.EINVAL
	}
	c := tab[slot]
	if c == nil || uint64(c.addr) != id {
		return nil, linux.EINVAL
	}
	return c, nil
}

// AIOContextCount returns /proc/sys/fs/aio-nr.
func (k *Kernel) AIOContextCount() uint64 {
	k.aioDropReleased()
	k.aio.mu.Lock()
	defer k.aio.mu.Unlock()
	return k.aio.nr
}

// aioDropReleased kills the contexts of address spaces that have been
// released: Linux's exit_aio, run when a process exits or execs (and
// before io_setup and aio-nr reads, which catches an address space whose
// last user was a transient one such as a ptrace peek). Requests still in
// flight complete into the dead ring; cancellable ones are cancelled.
func (k *Kernel) aioDropReleased() {
	s := &k.aio
	s.mu.Lock()
	if len(s.tables) == 0 {
		s.mu.Unlock()
		return
	}
	var dead []*AIOContext
	for m, tab := range s.tables {
		if !m.Released() {
			continue
		}
		for _, c := range tab {
			if c != nil {
				s.nr -= uint64(c.maxReqs)
				dead = append(dead, c)
			}
		}
		delete(s.tables, m)
	}
	s.mu.Unlock()
	for _, c := range dead {
		c.kill()
	}
}

// Destroy implements io_destroy(2) for t, whose address space holds c: it
// takes c out of the table (EINVAL if another io_destroy got there
// first), cancels what can be cancelled, waits for the rest of the
// requests in flight, and unmaps the ring.
func (c *AIOContext) Destroy(t *Task) error {
	s := &c.k.aio
	s.mu.Lock()
	tab := s.tables[c.mm]
	if uint64(c.id) >= uint64(len(tab)) || tab[c.id] != c {
		s.mu.Unlock()
		return linux.EINVAL
	}
	tab[c.id] = nil
	s.nr -= uint64(c.maxReqs)
	s.mu.Unlock()

	c.kill()
	// Linux waits uninterruptibly; a kill still gets the task out, so a
	// request blocked for good in another thread cannot wedge exit.
	for {
		err := t.Block(c.idle)
		if err == nil || t.isKilled() {
			break
		}
	}
	// Linux unmaps the ring's range whatever is mapped there now.
	_ = c.mm.MUnmap(c.addr, c.size)
	return nil
}

// kill marks c dead, wakes its io_getevents waiters and cancels its
// cancellable requests.
func (c *AIOContext) kill() {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead = true
	cancels := make([]func(), 0, len(c.cancels))
	for _, f := range c.cancels {
		cancels = append(cancels, f)
	}
	clear(c.cancels)
	c.wakeLocked()
	c.maybeIdleLocked()
	c.mu.Unlock()
	for _, f := range cancels {
		f()
	}
}

func (c *AIOContext) wakeLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// maybeIdleLocked releases the ring once c is dead and nothing can
// complete into it any more.
func (c *AIOContext) maybeIdleLocked() {
	if c.dead && c.inflight == 0 && c.ring != nil {
		close(c.idle)
		c.ring.DecRef()
		c.ring = nil
	}
}

// readU32Locked reads a ring header field.
func (c *AIOContext) readU32Locked(off int64) uint32 {
	var b [4]byte
	_, _ = c.ring.ReadAt(b[:], off)
	return binary.LittleEndian.Uint32(b[:])
}

func (c *AIOContext) writeU32Locked(off int64, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, _ = c.ring.WriteAt(b[:], off)
}

// Reserve takes a slot for one request, failing (io_submit's EAGAIN) when
// the requests in flight and the events the application has not consumed
// would fill the ring. Every successful Reserve is followed by exactly one
// Complete or Unreserve.
func (c *AIOContext) Reserve() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	head := c.readU32Locked(aioRingOffHead) % c.nr
	unread := (c.tail + c.nr - head) % c.nr
	if uint32(c.inflight)+unread >= c.nr-1 {
		return false
	}
	c.inflight++
	return true
}

// Unreserve gives back a slot whose request failed before it was
// submitted (io_submit reports the error instead of an event).
func (c *AIOContext) Unreserve() {
	c.mu.Lock()
	c.inflight--
	c.maybeIdleLocked()
	c.mu.Unlock()
}

// Complete posts ev for a request that Reserve admitted, and wakes
// io_getevents. A dead context's ring is written too (it may not be freed
// yet), but nobody reads it.
func (c *AIOContext) Complete(ev AIOEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring != nil {
		var b [AIOEventSize]byte
		le := binary.LittleEndian
		le.PutUint64(b[0:], ev.Data)
		le.PutUint64(b[8:], ev.Obj)
		le.PutUint64(b[16:], uint64(ev.Res))
		le.PutUint64(b[24:], uint64(ev.Res2))
		pos := int64(aioRingHeaderSize) + int64(c.tail)*AIOEventSize
		_, _ = c.ring.WriteAt(b[:], pos)
		c.tail = (c.tail + 1) % c.nr
		// The event is written before the tail that publishes it
		// (each WriteAt is a locked section, which orders them).
		c.writeU32Locked(aioRingOffTail, c.tail)
	}
	c.inflight--
	c.wakeLocked()
	c.maybeIdleLocked()
}

// AddCancellable records that the request whose iocb is at obj can be
// cancelled with cancel (which must complete it), until
// RemoveCancellable. It returns false if c is dead; the caller then
// cancels the request itself.
func (c *AIOContext) AddCancellable(obj uint64, cancel func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	c.cancels[obj] = cancel
	return true
}

// RemoveCancellable forgets obj's cancel function; a request calls it
// when it completes on its own.
func (c *AIOContext) RemoveCancellable(obj uint64) {
	c.mu.Lock()
	delete(c.cancels, obj)
	c.mu.Unlock()
}

// Cancel implements io_cancel(2) for the request whose iocb is at obj:
// EINVAL if it is not a pending cancellable request, otherwise it is
// cancelled, its event goes to the ring, and the result is EINPROGRESS,
// as Linux reports.
func (c *AIOContext) Cancel(obj uint64) error {
	c.mu.Lock()
	f, ok := c.cancels[obj]
	delete(c.cancels, obj)
	c.mu.Unlock()
	if !ok {
		return linux.EINVAL
	}
	f()
	return linux.EINPROGRESS
}

// readEventsLocked copies up to limit events from the ring to dst and
// advances the ring's head past them, as Linux's aio_read_events_ring:
// head and tail are taken from the ring. It returns the count, or EFAULT
// if nothing could be copied.
func (c *AIOContext) readEventsLocked(t *Task, dst uintptr, limit int64) (int64, error) {
	if c.ring == nil || limit <= 0 {
		return 0, nil
	}
	head := c.readU32Locked(aioRingOffHead)
	tail := c.readU32Locked(aioRingOffTail)
	if head == tail {
		return 0, nil
	}
	head %= c.nr
	tail %= c.nr
	var n int64
	for n < limit && head != tail {
		avail := int64(c.nr - head)
		if head <= tail {
			avail = int64(tail - head)
		}
		avail = min(avail, limit-n)
		buf := make([]byte, avail*AIOEventSize)
		_, _ = c.ring.ReadAt(buf, int64(aioRingHeaderSize)+int64(head)*AIOEventSize)
		if w, err := t.mm.CopyOut(dst+uintptr(n)*AIOEventSize, buf); err != nil || w != len(buf) {
			return n, linux.EFAULT
		}
		n += avail
		head = uint32((int64(head) + avail) % int64(c.nr))
	}
	c.writeU32Locked(aioRingOffHead, head)
	return n, nil
}

// GetEvents implements io_getevents(2) once the arguments are checked
// (0 <= minNr <= nr): it copies events to dst until at least minNr have
// been copied, the timeout (nil for none) passes, or t is interrupted. It
// returns the count, with ErrInterrupted if t was interrupted before
// copying any; EINVAL if the context died with nothing copied; EFAULT if
// the first copy faulted.
func (c *AIOContext) GetEvents(t *Task, minNr, nr int64, dst uintptr, timeout *time.Duration) (int64, error) {
	var deadline time.Time
	if timeout != nil {
		deadline = time.Now().Add(*timeout)
	}
	var got int64
	for {
		c.mu.Lock()
		n, err := c.readEventsLocked(t, dst+uintptr(got)*AIOEventSize, nr-got)
		got += n
		dead := c.dead
		ch := c.changed
		c.mu.Unlock()
		if err != nil {
			if got == 0 {
				return 0, err
			}
			return got, nil
		}
		if dead && got == 0 {
			return 0, linux.EINVAL
		}
		if got >= minNr || dead {
			return got, nil
		}
		if timeout != nil && *timeout <= 0 {
			return got, nil
		}
		var werr error
		if timeout == nil {
			werr = t.Block(ch)
		} else {
			werr = t.BlockWithDeadline(ch, deadline)
		}
		switch {
		case werr == nil:
		case ErrTimedOut(werr):
			// One last look, as Linux's wait re-checks its condition.
			timeout = new(time.Duration)
		default:
			return got, ErrInterrupted
		}
	}
}
