package kernel

import (
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// SignalHandlers is a table of signal dispositions, shared by every task
// created with CLONE_SIGHAND (always the case for threads).
//
// +stateify savable
type SignalHandlers struct {
	// mu guards actions.
	mu      sync.Mutex `state:"nosave"`
	actions [linux.NumSignals + 1]linux.SigAction
}

// NewSignalHandlers returns a table with every signal at SIG_DFL.
func NewSignalHandlers() *SignalHandlers { return &SignalHandlers{} }

// Fork returns an independent copy, for clone without CLONE_SIGHAND.
func (h *SignalHandlers) Fork() *SignalHandlers {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &SignalHandlers{actions: h.actions}
}

// ResetForExec applies execve's rule: caught signals revert to SIG_DFL,
// ignored ones stay ignored, and flags and masks are cleared.
func (h *SignalHandlers) ResetForExec() *SignalHandlers {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := &SignalHandlers{}
	for sig := range h.actions {
		if h.actions[sig].Handler == linux.SIG_IGN {
			n.actions[sig].Handler = linux.SIG_IGN
		}
	}
	return n
}

// Get returns the disposition of sig.
func (h *SignalHandlers) Get(sig linux.Signal) linux.SigAction {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.actions[sig]
}

// set replaces the disposition of sig and returns the old one. The caller
// has validated sig (not SIGKILL/SIGSTOP for a change).
func (h *SignalHandlers) set(sig linux.Signal, act linux.SigAction) linux.SigAction {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.actions[sig]
	// SIGKILL and SIGSTOP can never be blocked by a handler's mask.
	act.Mask &^= linux.MakeSignalSet(linux.SIGKILL, linux.SIGSTOP)
	h.actions[sig] = act
	return old
}

// isIgnored reports whether sig would be discarded at delivery: SIG_IGN,
// or SIG_DFL with an ignore default.
func (h *SignalHandlers) isIgnored(sig linux.Signal) bool {
	act := h.Get(sig)
	switch act.Handler {
	case linux.SIG_IGN:
		return true
	case linux.SIG_DFL:
		return sig.DefaultAction() == linux.SignalActIgnore
	}
	return false
}
