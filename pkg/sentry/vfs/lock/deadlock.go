package lock

import (
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// waiter is a blocked POSIX lock request.
type waiter struct {
	table *Table
	owner Owner
	typ   Type
	rng   Range
}

// waitGraph records every blocked request that takes part in deadlock
// detection, across all tables (like Linux's global blocked_hash), so that
// a new request can follow the chain "I wait for holder H, H waits for
// holder J, ..." back to itself.
type waitGraph struct {
	// mu guards waiting, and is taken before any Table.mu.
	mu sync.Mutex
	// waiting maps an owner to its blocked requests (threads sharing a
	// descriptor table are one owner and may each wait).
	waiting map[Owner][]*waiter
}

var graph waitGraph

// add registers w, or fails with EDEADLK if w's owner is, through the
// holders of the locks it waits for, already waited on by itself.
func (g *waitGraph) add(w *waiter) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reachesLocked(w, w.owner, map[Owner]bool{}) {
		return linux.EDEADLK
	}
	if g.waiting == nil {
		g.waiting = make(map[Owner][]*waiter)
	}
	g.waiting[w.owner] = append(g.waiting[w.owner], w)
	return nil
}

// reachesLocked reports whether target holds a lock that w waits for,
// directly or through a chain of blocked holders. Linux follows only the
// first blocking lock at each step; following all of them finds every
// cycle that exists at the time of the check.
func (g *waitGraph) reachesLocked(w *waiter, target Owner, seen map[Owner]bool) bool {
	w.table.mu.Lock()
	holders := w.table.conflictingOwnersLocked(w.owner, w.typ, w.rng)
	w.table.mu.Unlock()
	for _, h := range holders {
		if h == target {
			return true
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		for _, hw := range g.waiting[h] {
			if g.reachesLocked(hw, target, seen) {
				return true
			}
		}
	}
	return false
}

func (g *waitGraph) remove(w *waiter) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ws := g.waiting[w.owner]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(g.waiting, w.owner)
	} else {
		g.waiting[w.owner] = ws
	}
}
