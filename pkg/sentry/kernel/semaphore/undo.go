package semaphore

import (
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// UndoList is a process's SEM_UNDO record (struct sem_undo_list): the
// sets in which it holds adjustments. The adjustments themselves live in
// each set, so semctl's SETVAL/SETALL can clear them.
type UndoList struct {
	// mu guards sets. It nests inside Registry.mu.
	mu   sync.Mutex
	sets map[*Set]struct{}
}

// NewUndoList returns an empty list.
func NewUndoList() *UndoList { return &UndoList{sets: make(map[*Set]struct{})} }

func (ul *UndoList) add(s *Set) {
	ul.mu.Lock()
	ul.sets[s] = struct{}{}
	ul.mu.Unlock()
}

// Exit applies and forgets the list's adjustments, as Linux does when the
// last task sharing the list exits (or unshares it): each semaphore moves
// by its adjustment, clamped to [0, SEMVMX], and its sempid becomes pid.
func (ul *UndoList) Exit(pid int32) {
	ul.mu.Lock()
	sets := ul.sets
	ul.sets = make(map[*Set]struct{})
	ul.mu.Unlock()
	for s := range sets {
		r := s.r
		r.mu.Lock()
		if a := s.undos[ul]; a != nil && !s.dead {
			delete(s.undos, ul)
			changed := false
			for i, adj := range a {
				if adj == 0 {
					continue
				}
				v := min(max(s.sems[i].val+adj, 0), linux.SEMVMX)
				changed = changed || v != s.sems[i].val
				s.sems[i].val = v
				s.sems[i].pid = pid
			}
			if changed {
				s.wakeLocked()
			}
		}
		r.mu.Unlock()
	}
}
