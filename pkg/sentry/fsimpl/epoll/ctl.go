package epoll

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Flag bits of epoll_event.events that are not events.
const (
	flagET        = linux.EPOLLET
	flagOneShot   = linux.EPOLLONESHOT
	flagExclusive = linux.EPOLLEXCLUSIVE
	flagWakeup    = linux.EPOLLWAKEUP
	flagBits      = flagET | flagOneShot | flagExclusive | flagWakeup
)

// exclusiveOKBits are the only bits EPOLLEXCLUSIVE may come with.
const exclusiveOKBits = linux.EPOLLIN | linux.EPOLLOUT | linux.EPOLLERR | linux.EPOLLHUP |
	flagWakeup | flagET | flagExclusive

// procFSName is the filesystem whose regular files Linux can poll.
const procFSName = "proc"

// memDevMajor is the major number of /dev/null, /dev/zero and the other
// memory devices, none of which Linux can poll.
const memDevMajor = 1

// checkPollable fails with EPERM for files Linux has no poll method for:
// directories, regular files on disk and in tmpfs, and the memory devices.
// Such files are always ready, so watching them is refused rather than
// reported forever.
func checkPollable(ctx context.Context, file *vfs.FileDescription) error {
	vd := file.VirtualDentry()
	if !vd.Ok() {
		return nil
	}
	switch file.Inode().Type() {
	case linux.S_IFDIR:
		return linux.EPERM
	case linux.S_IFREG:
		if vd.Mount().Filesystem().Type().Name() != procFSName {
			return linux.EPERM
		}
	case linux.S_IFCHR:
		st, err := file.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_TYPE})
		if err == nil && st.RdevMajor == memDevMajor {
			return linux.EPERM
		}
	}
	return nil
}

// Control implements epoll_ctl(2) once both descriptors are resolved:
// epFile is the file of epfd, file that of fd (number num). events and
// data are the epoll_event (ignored for EPOLL_CTL_DEL). Errors come in
// Linux's order: EPERM for an unpollable file, EINVAL for a non-epoll
// epfd, a self-add or bad flags, ELOOP, then EEXIST or ENOENT.
func Control(ctx context.Context, epFile *vfs.FileDescription, op int32, file *vfs.FileDescription, num int32, events uint32, data uint64) error {
	if err := checkPollable(ctx, file); err != nil {
		return err
	}
	ep, ok := FromFD(epFile)
	if !ok || epFile == file {
		return linux.EINVAL
	}
	child, _ := FromFD(file)
	if op != linux.EPOLL_CTL_DEL && events&flagExclusive != 0 {
		if op == linux.EPOLL_CTL_MOD || child != nil || events&^exclusiveOKBits != 0 {
			return linux.EINVAL
		}
	}
	switch op {
	case linux.EPOLL_CTL_ADD:
		return ep.add(ctx, file, num, child, events, data)
	case linux.EPOLL_CTL_MOD:
		return ep.modify(ctx, file, num, events, data)
	case linux.EPOLL_CTL_DEL:
		return ep.remove(file, num)
	}
	return linux.EINVAL
}

// maskOf returns the events an interest listens for: those asked for plus
// errors and hang-ups, which are always reported.
func maskOf(events uint32) waiter.EventMask {
	return waiter.EventMask(events&^flagBits)&waiter.AllEvents | waiter.EventErr | waiter.EventHUp
}

func (ep *EventPoll) add(ctx context.Context, file *vfs.FileDescription, num int32, child *EventPoll, events uint32, data uint64) error {
	if child != nil {
		// The nesting check comes before the duplicate check, as on
		// Linux; the edge it adds is taken back if the add fails.
		if err := addNesting(ep, child); err != nil {
			return err
		}
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	k := key{file, num}
	if _, ok := ep.interests[k]; ok {
		if child != nil {
			removeNesting(ep, child)
		}
		return linux.EEXIST
	}
	if len(ep.interests) >= ep.sweepAt {
		ep.sweepLocked()
	}
	it := &interest{ep: ep, key: k, mask: maskOf(events), flags: events & flagBits, data: data, child: child}
	it.entry.Init(it, it.mask)
	if err := file.EventRegister(&it.entry); err != nil {
		if child != nil {
			removeNesting(ep, child)
		}
		return err
	}
	ep.interests[k] = it
	ep.queueIfReadyLocked(ctx, it)
	return nil
}

func (ep *EventPoll) modify(ctx context.Context, file *vfs.FileDescription, num int32, events uint32, data uint64) error {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	it, ok := ep.interests[key{file, num}]
	if !ok {
		return linux.ENOENT
	}
	if it.flags&flagExclusive != 0 {
		return linux.EINVAL
	}
	// The entry's mask cannot change while it is registered; an event
	// in the gap is caught by the readiness check below.
	file.EventUnregister(&it.entry)
	it.mask = maskOf(events)
	it.flags = events & flagBits
	it.data = data
	it.entry.Init(it, it.mask)
	if err := file.EventRegister(&it.entry); err != nil {
		ep.removeLocked(it)
		return err
	}
	ep.readyMu.Lock()
	it.disarmed = false
	ep.readyMu.Unlock()
	ep.queueIfReadyLocked(ctx, it)
	return nil
}

func (ep *EventPoll) remove(file *vfs.FileDescription, num int32) error {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	it, ok := ep.interests[key{file, num}]
	if !ok {
		return linux.ENOENT
	}
	ep.removeLocked(it)
	return nil
}

// removeLocked ends a registration. Requires ep.mu.
func (ep *EventPoll) removeLocked(it *interest) {
	// After EventUnregister returns, NotifyEvent can no longer run for
	// it, so it leaves the ready list for good.
	it.file.EventUnregister(&it.entry)
	ep.readyMu.Lock()
	if it.queued {
		ep.ready.remove(it)
		it.queued = false
	}
	ep.readyMu.Unlock()
	delete(ep.interests, it.key)
	if it.child != nil {
		removeNesting(ep, it.child)
	}
}

// sweepLocked drops the registrations of files that have been closed and
// sets the next sweep to twice the survivors, which keeps the cost of
// sweeping constant per add. Requires ep.mu.
func (ep *EventPoll) sweepLocked() {
	for _, it := range ep.interests {
		if it.file.ReadRefs() <= 0 {
			ep.removeLocked(it)
		}
	}
	ep.sweepAt = max(minSweep, 2*len(ep.interests))
}

// queueIfReadyLocked puts it on the ready list if its file is ready now,
// as adding and modifying do, and wakes waiters. Requires ep.mu.
func (ep *EventPoll) queueIfReadyLocked(ctx context.Context, it *interest) {
	if ep.pollLocked(ctx, it) == 0 {
		return
	}
	ep.readyMu.Lock()
	if it.queued || it.disarmed {
		ep.readyMu.Unlock()
		return
	}
	it.queued = true
	ep.ready.pushBack(it)
	ep.readyMu.Unlock()
	ep.queue.Notify(waiter.ReadableEvents)
}

// pollLocked returns the events of it that its file has now, or 0 if the
// file is closed or it is a fired one-shot. Requires ep.mu.
func (ep *EventPoll) pollLocked(ctx context.Context, it *interest) waiter.EventMask {
	ep.readyMu.Lock()
	disarmed := it.disarmed
	ep.readyMu.Unlock()
	if disarmed || !it.file.TryIncRef() {
		return 0
	}
	r := it.file.Readiness(it.mask) & it.mask
	// This can be the last reference if the file was closed meanwhile;
	// releasing it here is safe because only watched files' locks, which
	// come after ep.mu, are taken.
	it.file.DecRef(ctx)
	return r
}
