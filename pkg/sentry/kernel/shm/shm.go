// Package shm implements System V shared memory segments (shmget(2),
// shmctl(2), and the object shmat(2) maps): one Registry per IPC
// namespace, each segment a memmap.Mappable over memory-file pages, so
// every attachment, in any process and across fork, maps the very same
// pages.
//
// The number of attachments (shm_nattch) is the number of mappings of the
// segment the memory managers hold, counted in AddMapping/RemoveMapping:
// fork, exit, exec, munmap of part of an attachment and shmdt all keep it
// right without hooks. A segment removed with IPC_RMID while attached
// loses its key and is destroyed when the last mapping goes.
//
// Lock order: mm.MemoryManager.mu, then Registry.mu, then the segment's
// memmap.PageStore lock. Registry methods never call into a memory
// manager.
package shm

import (
	"fmt"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/kernel/ipc"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// Registry holds the segments of one IPC namespace.
type Registry struct {
	mf *pgalloc.MemoryFile

	// mu guards everything below and every segment's mutable fields.
	mu  sync.Mutex
	ids *ipc.Registry[*Segment]
	// totalPages is the page-rounded size of every live segment, bounded
	// by shmAll (ns->shm_tot).
	totalPages uint64

	// The namespace's limits (kernel.shmmax, shmall, shmmni).
	shmMax, shmAll uint64
	shmMni         int
}

// NewRegistry returns an empty registry whose segments live in mf, with
// Linux's default limits.
func NewRegistry(mf *pgalloc.MemoryFile) *Registry {
	return &Registry{
		mf:     mf,
		ids:    ipc.NewRegistry[*Segment](),
		shmMax: linux.SHMMAX,
		shmAll: linux.SHMALL,
		shmMni: linux.SHMMNI,
	}
}

// Limits returns kernel.shmmax, kernel.shmall and kernel.shmmni.
func (r *Registry) Limits() (shmMax, shmAll uint64, shmMni int) {
	return r.shmMax, r.shmAll, r.shmMni
}

// Segment is one shared memory segment, and the memmap.Mappable shmat
// maps.
type Segment struct {
	r *Registry
	// size is shm_segsz, the size asked for at creation.
	size uint64
	// store holds the pages. The registry holds one reference until the
	// segment is destroyed; each mapping holds one.
	store *memmap.PageStore
	// name is what /proc/PID/maps shows.
	name string

	// The fields below are guarded by r.mu.
	perm ipc.Perm
	// nattch counts the mappings of the segment.
	nattch uint64
	// Times are seconds since the epoch; pids are thread group IDs.
	atime, dtime, ctime int64
	cpid, lpid          int32
	// destroyed is set once the segment left the registry and gave its
	// pages back (the mappings may still hold them).
	destroyed bool
}

// IPCPerm implements ipc.Object.
func (s *Segment) IPCPerm() *ipc.Perm { return &s.perm }

// ID returns the segment's identifier.
func (s *Segment) ID() int32 {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.perm.ID
}

// Size returns shm_segsz.
func (s *Segment) Size() uint64 { return s.size }

func pagesFor(size uint64) uint64 { return (size + linux.PageSize - 1) / linux.PageSize }

// Get implements shmget(2) for the thread group pid, returning the
// segment's identifier.
func (r *Registry) Get(creds *auth.Credentials, key int32, size uint64, flags int32, pid int32) (int32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seg, err := r.ids.Get(ipc.GetArgs[*Segment]{
		Key:   key,
		Flags: flags,
		Creds: creds,
		Max:   r.shmMni,
		Create: func() (*Segment, error) {
			return r.newSegmentLocked(creds, key, size, flags, pid)
		},
		Abort: func(s *Segment) {
			r.totalPages -= pagesFor(s.size)
			s.store.DecRef()
		},
		Check: func(s *Segment) error {
			if s.size < size {
				return linux.EINVAL
			}
			return nil
		},
	})
	if err != nil {
		return 0, err
	}
	return seg.perm.ID, nil
}

// newSegmentLocked applies newseg's checks and makes a segment.
func (r *Registry) newSegmentLocked(creds *auth.Credentials, key int32, size uint64, flags int32, pid int32) (*Segment, error) {
	if size < linux.SHMMIN || size > r.shmMax {
		return nil, linux.EINVAL
	}
	n := pagesFor(size)
	if n == 0 || r.totalPages+n < r.totalPages || r.totalPages+n > r.shmAll {
		return nil, linux.ENOSPC
	}
	if r.mf == nil {
		return nil, linux.ENOMEM
	}
	store := memmap.NewPageStore(r.mf, fmt.Sprintf("/SYSV%08x (deleted)", uint32(key)))
	if err := store.Truncate(size); err != nil {
		store.DecRef()
		return nil, linux.ENOMEM
	}
	s := &Segment{
		r:     r,
		size:  size,
		store: store,
		perm:  ipc.NewPerm(creds, key, flags),
		ctime: ipc.Now(),
		cpid:  pid,
	}
	s.name = store.Name()
	r.totalPages += n
	return s, nil
}

// destroyLocked removes s from the registry and drops the registry's
// reference on its pages.
func (s *Segment) destroyLocked() {
	if s.destroyed {
		return
	}
	s.destroyed = true
	s.r.ids.Remove(s)
	s.r.totalPages -= pagesFor(s.size)
	// PageStore.DecRef takes only the store's lock, which nests inside
	// r.mu.
	s.store.DecRef()
}

// AttachAccess returns the access shmat asks for with shmflg: read, plus
// write unless SHM_RDONLY, plus execute with SHM_EXEC.
func AttachAccess(shmflg int32) uint32 {
	acc := uint32(0444)
	if shmflg&linux.SHM_RDONLY == 0 {
		acc |= 0222
	}
	if shmflg&linux.SHM_EXEC != 0 {
		acc |= 0111
	}
	return acc
}

// FindForAttach returns the segment id for shmat, after checking that
// creds has the access AttachAccess(shmflg) names. The segment comes with
// a reference on its pages that keeps it mappable until the caller's
// DoneAttach, even if it is removed meanwhile.
func (r *Registry) FindForAttach(creds *auth.Credentials, id int32, shmflg int32) (*Segment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.ids.Lookup(id)
	if err != nil {
		return nil, err
	}
	if !s.perm.Access(creds, AttachAccess(shmflg)) {
		return nil, linux.EACCES
	}
	s.store.IncRef()
	return s, nil
}

// DoneAttach ends a FindForAttach. attached says the mapping was made,
// by the thread group pid: it becomes shm_lpid and the time shm_atime.
func (s *Segment) DoneAttach(attached bool, pid int32) {
	if attached {
		s.r.mu.Lock()
		s.atime = ipc.Now()
		s.lpid = pid
		s.r.mu.Unlock()
	}
	s.store.DecRef()
}

// Detached records a shmdt by pid.
func (s *Segment) Detached(pid int32) {
	s.r.mu.Lock()
	s.dtime = ipc.Now()
	s.lpid = pid
	s.r.mu.Unlock()
}

// Name implements memmap.Mappable: "/SYSV<key> (deleted)", as Linux
// names the file behind every segment.
func (s *Segment) Name() string { return s.name }

// AddMapping implements memmap.Mappable.
func (s *Segment) AddMapping(ms memmap.MappingSpace, ar memmap.AddrRange, offset uint64, writable bool) error {
	if err := s.store.AddMapping(ms, ar, offset, writable); err != nil {
		return err
	}
	s.r.mu.Lock()
	s.nattch++
	s.r.mu.Unlock()
	return nil
}

// RemoveMapping implements memmap.Mappable. The last mapping of a
// segment marked for destruction destroys it.
func (s *Segment) RemoveMapping(ms memmap.MappingSpace, ar memmap.AddrRange, offset uint64, writable bool) {
	s.r.mu.Lock()
	s.nattch--
	if s.nattch == 0 && s.perm.Mode&linux.SHM_DEST != 0 {
		s.destroyLocked()
	}
	s.r.mu.Unlock()
	s.store.RemoveMapping(ms, ar, offset, writable)
}

// GetPages implements memmap.Mappable.
func (s *Segment) GetPages(offset uint64, pages []uint64, write bool) (int, error) {
	return s.store.GetPages(offset, pages, write)
}

// IsSegment reports whether m is a shared memory segment, and its size:
// what shmdt needs to find the attachments it removes.
func IsSegment(m memmap.Mappable) (uint64, bool) {
	s, ok := m.(*Segment)
	if !ok {
		return 0, false
	}
	return s.size, true
}
