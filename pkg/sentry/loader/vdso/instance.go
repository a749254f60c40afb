package vdso

import (
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// Options configures New.
type Options struct {
	// TSCReliable says the host's TSC is invariant (see TSCReliable).
	// Without it the vDSO answers nothing itself.
	TSCReliable bool
	// CoarseRes is the host's coarse clock resolution in ns
	// (CoarseResolution); 0 leaves the coarse clocks to the Sentry.
	CoarseRes int64
	// Period is the steady update interval; 0 means DefaultPeriod.
	Period time.Duration
}

// DefaultPeriod is how often the vvar page follows the host's clocks.
// Between updates the vDSO extrapolates with the measured TSC rate, whose
// error after the first seconds is well under a part per million.
const DefaultPeriod = 100 * time.Millisecond

// firstPeriod is the interval after the first sample. Updates then double
// their interval up to Period, so that the vDSO is usable within a
// millisecond of start and its rate is refined quickly.
const firstPeriod = time.Millisecond

// Instance is one sandbox's vDSO: the vvar page and the image in
// memory-file pages shared by every address space, and the goroutine
// that keeps the vvar page current.
type Instance struct {
	mf        *pgalloc.MemoryFile
	pages     pgalloc.Range
	imageSize uint64
	mappable  *pagesMappable
	period    time.Duration

	// mu serializes writers of the vvar page and guards tracker, vvar
	// and stopped.
	mu      sync.Mutex
	tracker *Tracker
	// vvar is the Sentry's view of the vvar page.
	vvar    []byte
	stopped bool

	stop chan struct{}
	done chan struct{}
}

// New allocates the vvar page and the image from mf, publishes the first
// parameters and starts the updater. It returns ErrNoImage on
// architectures without an image.
func New(mf *pgalloc.MemoryFile, opts Options) (*Instance, error) {
	img, err := Image()
	if err != nil {
		return nil, err
	}
	imageSize := (uint64(len(img)) + memmap.PageSize - 1) &^ (memmap.PageSize - 1)
	r, err := mf.Allocate(VVarSize + imageSize)
	if err != nil {
		return nil, err
	}
	all := mf.Slice(r)
	copy(all[VVarSize:], img)
	in := &Instance{
		mf:        mf,
		pages:     r,
		imageSize: imageSize,
		mappable:  &pagesMappable{mf: mf, r: r},
		period:    opts.Period,
		tracker:   NewTracker(opts.TSCReliable, opts.CoarseRes),
		vvar:      all[:VVarSize],
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if in.period <= 0 {
		in.period = DefaultPeriod
	}
	if err := in.Update(firstPeriod); err != nil {
		mf.DecRef(r)
		return nil, err
	}
	go in.run(opts.TSCReliable)
	return in, nil
}

// Mappable is the vvar page (offset 0, VVarSize bytes) followed by the
// image (ImageSize bytes).
func (in *Instance) Mappable() memmap.Mappable { return in.mappable }

// ImageSize is the page-rounded size of the image.
func (in *Instance) ImageSize() uint64 { return in.imageSize }

// Update samples the host's clocks and republishes the vvar page, with
// period the expected time until the next update.
func (in *Instance) Update(period time.Duration) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.stopped {
		return nil
	}
	if !in.tracker.usable {
		Publish(in.vvar, func() Params { return in.tracker.ParamsAt(0) })
		return nil
	}
	s, err := SampleHost()
	if err != nil {
		return err
	}
	in.tracker.Update(s, period)
	Publish(in.vvar, func() Params { return in.tracker.ParamsAt(readTSC()) })
	return nil
}

// run keeps the vvar page current until Release.
func (in *Instance) run(usable bool) {
	defer close(in.done)
	if !usable {
		return
	}
	d := firstPeriod
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
		}
		next := min(2*d, in.period)
		// A failed sample leaves the old parameters in place; the next
		// one tries again.
		_ = in.Update(next)
		d = next
		t.Reset(d)
	}
}

// Release stops the updater and drops the Instance's reference on its
// pages. Address spaces keep references only on the pages they have
// faulted in, so Release must come after every address space mapping the
// Instance is gone (kernel shutdown).
func (in *Instance) Release() {
	in.mu.Lock()
	if in.stopped {
		in.mu.Unlock()
		return
	}
	in.stopped = true
	in.mu.Unlock()
	close(in.stop)
	<-in.done
	in.mf.DecRef(in.pages)
}

// VVar returns the Sentry's view of the vvar page, for tests.
func (in *Instance) VVar() []byte { return in.vvar }

// MemoryFileRange is where the vvar page and the image live in the memory
// file, for tests that map them themselves.
func (in *Instance) MemoryFileRange() pgalloc.Range { return in.pages }

// Now is clock c as the vDSO computes it from the published line, or
// false when the vDSO leaves c to the Sentry (or no line is published
// yet). The Sentry's own clock_gettime uses it so that a program mixing
// vDSO reads and system calls sees one clock, never going backwards.
func (in *Instance) Now(c int32) (int64, bool) {
	if c < 0 || c >= numClockIDs {
		return 0, false
	}
	p := Read(in.vvar)
	res := p.Res[c]
	if res == 0 {
		return 0, false
	}
	ns := p.MonoAt(readTSC()) + p.Offsets[c]
	if res > 1 {
		ns -= ns % res
	}
	return ns, true
}
