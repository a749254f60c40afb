package epoll

import (
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// maxNests is Linux's EP_MAX_NESTS: the longest chain of epolls watching
// epolls, counted in links, is four.
const maxNests = 4

// nestMu guards the nesting graph: every EventPoll's children and
// parents. It is a leaf lock: nothing else is taken while it is held.
var nestMu sync.Mutex

// addNesting records that parent watches child, failing with ELOOP if
// that closes a cycle or makes a chain longer than maxNests.
func addNesting(parent, child *EventPoll) error {
	nestMu.Lock()
	defer nestMu.Unlock()
	if reachesLocked(child, parent, map[*EventPoll]bool{}) {
		return linux.ELOOP
	}
	if depthLocked(parent, true, map[*EventPoll]int{})+1+depthLocked(child, false, map[*EventPoll]int{}) > maxNests {
		return linux.ELOOP
	}
	if parent.children == nil {
		parent.children = make(map[*EventPoll]int)
	}
	if child.parents == nil {
		child.parents = make(map[*EventPoll]int)
	}
	parent.children[child]++
	child.parents[parent]++
	return nil
}

// removeNesting undoes one addNesting. The edge may already be gone if
// child was released first.
func removeNesting(parent, child *EventPoll) {
	nestMu.Lock()
	defer nestMu.Unlock()
	if parent.children[child] <= 1 {
		delete(parent.children, child)
	} else {
		parent.children[child]--
	}
	if child.parents[parent] <= 1 {
		delete(child.parents, parent)
	} else {
		child.parents[parent]--
	}
}

// forgetNesting takes a released epoll out of the graph.
func forgetNesting(ep *EventPoll) {
	nestMu.Lock()
	defer nestMu.Unlock()
	for p := range ep.parents {
		delete(p.children, ep)
	}
	for c := range ep.children {
		delete(c.parents, ep)
	}
	ep.parents, ep.children = nil, nil
}

// reachesLocked reports whether to is from or below it. Requires nestMu.
func reachesLocked(from, to *EventPoll, seen map[*EventPoll]bool) bool {
	if from == to {
		return true
	}
	if seen[from] {
		return false
	}
	seen[from] = true
	for c := range from.children {
		if reachesLocked(c, to, seen) {
			return true
		}
	}
	return false
}

// depthLocked returns the longest chain of links from ep upwards (to the
// epolls watching it) or downwards. The graph is acyclic; memo keeps the
// walk linear in its size. Requires nestMu.
func depthLocked(ep *EventPoll, up bool, memo map[*EventPoll]int) int {
	if d, ok := memo[ep]; ok {
		return d
	}
	next := ep.children
	if up {
		next = ep.parents
	}
	d := 0
	for n := range next {
		d = max(d, 1+depthLocked(n, up, memo))
	}
	memo[ep] = d
	return d
}
