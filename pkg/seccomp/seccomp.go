// Package seccomp builds, checks and installs the classic-BPF seccomp
// filters of every process we confine: the Sentry, the gofer, and (inside
// the sandbox) a container's own OCI seccomp profile.
//
// A filter is described as a RuleSet: ordered sections, each an action and
// a map from syscall number to the argument rules that select it, plus a
// default action. Compile turns a RuleSet into a Program that
//
//   - checks seccomp_data.arch against the architecture the program is for
//     and kills the process on any other (on x86-64 it also kills on x32
//     syscall numbers, nr >= 0x40000000, which share the arch token);
//   - tests the RuleSet's hot syscalls first, one compare each, so the
//     calls a process makes most often are decided in a handful of
//     instructions;
//   - finds every other syscall by a binary search over the numbers that
//     have rules, then tries that syscall's rules in section order.
//
// Classic BPF only loads 32-bit words, so each 64-bit argument compare is
// done on its two halves (high first) with unsigned semantics; see
// Match. Conditional jumps reach at most 255 instructions forward, so the
// assembler turns a longer conditional jump into a short one over an
// unconditional BPF_JA (32-bit offset) to the far target.
//
// Evaluate interprets a Program in Go exactly as the kernel's seccomp BPF
// runner would, for tests and for explaining a decision. Install loads a
// Program into the calling process with SECCOMP_FILTER_FLAG_TSYNC, so
// every thread of the Go runtime is covered, not only the caller.
package seccomp

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Action is a filter's verdict: a SECCOMP_RET_* value, action in the high
// 16 bits and data (an errno, a trace message) in the low 16.
//
// The zero Action is SECCOMP_RET_KILL_THREAD, so a RuleSet whose Default
// was forgotten fails closed. Go processes should not use it on purpose:
// killing one runtime thread leaves the rest deadlocked; use KillProcess.
type Action uint32

// Actions without data.
const (
	Allow       Action = linux.SECCOMP_RET_ALLOW
	KillProcess Action = linux.SECCOMP_RET_KILL_PROCESS
	KillThread  Action = linux.SECCOMP_RET_KILL_THREAD
	Trap        Action = linux.SECCOMP_RET_TRAP
	Log         Action = linux.SECCOMP_RET_LOG
	UserNotif   Action = linux.SECCOMP_RET_USER_NOTIF
	Trace       Action = linux.SECCOMP_RET_TRACE
)

// Errno fails the call with e without running it.
func Errno(e linux.Errno) Action {
	return Action(linux.SECCOMP_RET_ERRNO | uint32(e)&linux.SECCOMP_RET_DATA)
}

// TraceMsg notifies a tracer (PTRACE_O_TRACESECCOMP) with msg as the event
// message; without a tracer the call fails with ENOSYS.
func TraceMsg(msg uint16) Action { return Action(linux.SECCOMP_RET_TRACE | uint32(msg)) }

// TrapData raises SIGSYS with data in si_errno.
func TrapData(data uint16) Action { return Action(linux.SECCOMP_RET_TRAP | uint32(data)) }

// Kind is the action part alone (SECCOMP_RET_ACTION_FULL).
func (a Action) Kind() Action { return a & linux.SECCOMP_RET_ACTION_FULL }

// Data is the data part (SECCOMP_RET_DATA).
func (a Action) Data() uint16 { return uint16(a & linux.SECCOMP_RET_DATA) }

// String implements fmt.Stringer.
func (a Action) String() string {
	switch a.Kind() {
	case Allow:
		return "allow"
	case KillProcess:
		return "kill-process"
	case KillThread:
		return "kill-thread"
	case Trap:
		if a.Data() != 0 {
			return fmt.Sprintf("trap(%d)", a.Data())
		}
		return "trap"
	case linux.SECCOMP_RET_ERRNO:
		return fmt.Sprintf("errno(%d)", a.Data())
	case Trace:
		if a.Data() != 0 {
			return fmt.Sprintf("trace(%d)", a.Data())
		}
		return "trace"
	case Log:
		return "log"
	case UserNotif:
		return "user-notif"
	}
	return fmt.Sprintf("action(%#x)", uint32(a))
}

// Rule selects calls by their arguments and instruction pointer: it
// matches when every one of its Matches does. The zero Rule matches every
// call.
type Rule struct {
	Args [6]Match
	// IP matches seccomp_data.instruction_pointer, the address just after
	// the syscall instruction.
	IP Match
}

// Unconditional reports whether r matches every call.
func (r Rule) Unconditional() bool {
	for _, m := range r.Args {
		if !m.IsAny() {
			return false
		}
	}
	return r.IP.IsAny()
}

// String implements fmt.Stringer: the conditions joined by "&&", or "*".
func (r Rule) String() string {
	s := ""
	add := func(name string, m Match) {
		if m.IsAny() {
			return
		}
		if s != "" {
			s += " && "
		}
		s += m.describe(name)
	}
	for i, m := range r.Args {
		add(fmt.Sprintf("arg%d", i), m)
	}
	add("ip", r.IP)
	if s == "" {
		return "*"
	}
	return s
}

// SyscallRules maps a syscall number to the rules that select it; a call
// is selected when any rule matches. An empty (or nil) list selects every
// call of that number.
type SyscallRules map[uintptr][]Rule

// Add appends rules for nr (none: every call of nr) and returns s.
func (s SyscallRules) Add(nr uintptr, rules ...Rule) SyscallRules {
	if len(rules) == 0 {
		if _, ok := s[nr]; !ok {
			s[nr] = nil
		}
		return s
	}
	if old, ok := s[nr]; ok && len(old) == 0 {
		return s // already unconditional
	}
	s[nr] = append(s[nr], rules...)
	return s
}

// Merge adds every rule of o to s and returns s.
func (s SyscallRules) Merge(o SyscallRules) SyscallRules {
	for nr, rules := range o {
		if len(rules) == 0 {
			s[nr] = nil
			continue
		}
		s.Add(nr, rules...)
	}
	return s
}

// Section gives Action to the calls its Syscalls select.
type Section struct {
	Action   Action
	Syscalls SyscallRules
}

// RuleSet is a complete filter policy. A call is decided by the first
// section (in order) that selects it, and by Default when none does.
// Calls from another architecture, and x32 calls on x86-64, always kill
// the process.
type RuleSet struct {
	Sections []Section
	Default  Action
	// Hot lists syscall numbers to test before the binary search, most
	// frequent first. Listing one costs one instruction for every call
	// that is not it, and saves the search for those that are.
	Hot []uintptr
}

// AllowList is the usual policy of our own processes: allow what rules
// select and kill the process on anything else.
func AllowList(rules SyscallRules, hot ...uintptr) RuleSet {
	return RuleSet{
		Sections: []Section{{Action: Allow, Syscalls: rules}},
		Default:  KillProcess,
		Hot:      hot,
	}
}

// Program is a compiled filter, ready for Install or Evaluate.
type Program []linux.SockFilter
