package kernel

import (
	"context"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// This file is the kernel's half of terminal job control: which terminal
// controls which session, which process group is in the foreground, and
// the signals and errors that follow (tty(4), credentials(7), termios(3)
// "Job control"). Terminal drivers (devpts, host terminals) keep the
// terminal's data and settings; they embed a TTYControl and call it from
// open, read, write and the job-control ioctls.
//
// Sessions and process groups are IDs in the root PID namespace, so the
// association lives in a per-kernel map from session ID to terminal,
// guarded by Kernel.tasksMu like the IDs themselves. Linux keeps the
// controlling terminal per process (signal_struct.tty) and copies it on
// fork; here a session has one, which every member shares. The two
// differ only for processes that were already in a session when its
// leader acquired a terminal (Linux: they have none until they fork) and
// for children of a non-leader that gave its terminal up with TIOCNOTTY
// (Linux: they inherit having none; here they have the session's).
//
// Lock order: a driver's own locks may be held when calling TTYControl
// methods (they take tasksMu); the kernel never calls into a driver with
// tasksMu held except TTY.TTYDevice, which must not lock.

// TTY is a terminal that can be a session's controlling terminal.
type TTY interface {
	// TTYControl returns the terminal's job-control state, the same
	// value for the terminal's whole life.
	TTYControl() *TTYControl
	// TTYDevice returns the terminal's device number, what
	// /proc/PID/stat shows as tty_nr.
	TTYDevice() (major, minor uint32)
}

// TTYControl is the job-control state of one terminal. Drivers embed it
// (or hold one) and call Init once.
//
// +stateify savable
type TTYControl struct {
	tty TTY
	// ownerSession makes the terminal the controlling terminal of the
	// first session started from outside the sandbox that uses it (see
	// Init).
	ownerSession bool

	// k is the kernel whose sessions the terminal has been attached to;
	// set on first attachment and never changed.
	k atomic.Pointer[Kernel] `state:"nosave"`

	// The fields below are guarded by Kernel.tasksMu.

	// sid is the session the terminal controls, 0 if none; pgid is its
	// foreground process group, 0 if none. Both are root-namespace IDs.
	sid, pgid ThreadID
	// adopted is set once an ownerSession terminal has been given to
	// its session.
	adopted bool
}

// sessionTTY is what a session knows about terminals.
type sessionTTY struct {
	// tty is the controlling terminal, nil once it was hung up.
	tty *TTYControl
	// oldPGID is the foreground group the terminal had when it was hung
	// up, which is sent SIGHUP and SIGCONT when the session leader exits
	// (Linux's tty_old_pgrp).
	oldPGID ThreadID
	// detached are the processes of the session that gave the terminal
	// up with TIOCNOTTY without being its leader.
	detached map[*ThreadGroup]struct{}
}

// Init binds tc to its terminal. With ownerSession (host terminals handed
// to the sandbox as a container's stdio), the terminal becomes the
// controlling terminal of the first session that uses it and is led by a
// process the sandbox's owner started (the container's first process,
// or one `runsc exec` adds), with that leader's group in the foreground,
// as if the leader had acquired it with TIOCSCTTY before it ran: runc
// does that for a container with a terminal.
func (tc *TTYControl) Init(tty TTY, ownerSession bool) {
	tc.tty = tty
	tc.ownerSession = ownerSession
}

// ttySessionsLocked returns the session map, creating it. Requires tasksMu
// held for writing.
func (k *Kernel) ttySessionsLocked() map[ThreadID]*sessionTTY {
	if k.ttySessions == nil {
		k.ttySessions = make(map[ThreadID]*sessionTTY)
	}
	return k.ttySessions
}

// controllingTTYLocked returns tg's controlling terminal, or nil. Requires
// tasksMu.
func (k *Kernel) controllingTTYLocked(tg *ThreadGroup) *TTYControl {
	s := k.ttySessions[tg.sid]
	if s == nil || s.tty == nil {
		return nil
	}
	if _, ok := s.detached[tg]; ok {
		return nil
	}
	return s.tty
}

// ControllingTTY returns tg's controlling terminal, or nil if it has none
// (for /proc/PID/stat and /dev/tty).
func (tg *ThreadGroup) ControllingTTY() TTY {
	k := tg.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	if tc := k.controllingTTYLocked(tg); tc != nil {
		return tc.tty
	}
	return nil
}

// attachLocked makes tc the controlling terminal of session sid with
// foreground group pgid. Requires tasksMu held for writing.
func (tc *TTYControl) attachLocked(k *Kernel, sid, pgid ThreadID) {
	tc.k.CompareAndSwap(nil, k)
	tc.sid, tc.pgid = sid, pgid
	k.ttySessionsLocked()[sid] = &sessionTTY{tty: tc}
}

// detachLocked ends tc's control of its session, for every member.
// Requires tasksMu held for writing.
func (tc *TTYControl) detachLocked(k *Kernel) {
	if s := k.ttySessions[tc.sid]; s != nil && s.tty == tc {
		delete(k.ttySessions, tc.sid)
	}
	tc.sid, tc.pgid = 0, 0
}

// adoptLocked gives an ownerSession terminal to the session of tg if the
// conditions of Init hold. Requires tasksMu held for writing.
func (tc *TTYControl) adoptLocked(k *Kernel, tg *ThreadGroup) {
	if !tc.ownerSession || tc.adopted || tc.sid != 0 {
		return
	}
	leader := k.rootPIDNS.groups[tg.sid]
	if leader == nil || !leader.isSessionLeaderLocked() || leader.leader.parent != nil {
		return
	}
	if k.controllingTTYLocked(tg) != nil {
		return
	}
	tc.adopted = true
	tc.attachLocked(k, tg.sid, tg.sid)
}

// needsAdoption reports, without locks, whether a call must take tasksMu
// for writing to try adoptLocked first.
func (tc *TTYControl) needsAdoption(k *Kernel) bool {
	if !tc.ownerSession {
		return false
	}
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	return !tc.adopted && tc.sid == 0
}

// lockFor takes tasksMu for t's job-control checks on tc: for writing if
// tc may be adopted, else for reading. It returns the unlock function.
func (tc *TTYControl) lockFor(t *Task) func() {
	k := t.k
	if tc.needsAdoption(k) {
		k.tasksMu.Lock()
		tc.adoptLocked(k, t.tg)
		return k.tasksMu.Unlock
	}
	k.tasksMu.RLock()
	return k.tasksMu.RUnlock
}

// signalGroupLocked sends sig from the kernel to every process of the
// process group pgid (root namespace), as Linux's kill_pgrp(pgrp, sig, 1).
// Requires tasksMu.
func (k *Kernel) signalGroupLocked(pgid ThreadID, sig linux.Signal) {
	if pgid == 0 {
		return
	}
	for tg := range k.rootPIDNS.tgids {
		if tg.pgid == pgid && tg.leader != nil {
			tg.leader.sendSignalLocked(&linux.SignalInfo{Signo: int32(sig), Code: linux.SI_KERNEL}, true, false)
		}
	}
}

// orphanedGroupLocked reports whether the process group pgid is orphaned
// (POSIX): no member has a parent in another group of the same session.
// Exited members do not count. Requires tasksMu.
func (k *Kernel) orphanedGroupLocked(pgid ThreadID) bool {
	for tg := range k.rootPIDNS.tgids {
		if tg.pgid != pgid || tg.zombie || tg.reaped {
			continue
		}
		p := tg.leader.parent
		if p == nil {
			continue
		}
		if p.tg.pgid != pgid && p.tg.sid == tg.sid {
			return false
		}
	}
	return true
}

// checkChangeLocked is POSIX's background-process rule for a terminal
// operation of t: if tc is t's controlling terminal and t's process group
// is not its foreground group, t's group is sent sig (SIGTTIN for reads,
// SIGTTOU for writes with TOSTOP and for changing the terminal) and the
// call is restarted once the group continues. If t ignores or blocks sig
// the operation proceeds, except a read, which fails with EIO; an
// orphaned group, which nobody would continue, gets EIO. Requires
// tasksMu.
func (tc *TTYControl) checkChangeLocked(t *Task, sig linux.Signal) error {
	k := t.k
	tg := t.tg
	if k.controllingTTYLocked(tg) != tc || tc.pgid == 0 || tg.pgid == tc.pgid {
		return nil
	}
	tg.signalMu.Lock()
	ignored := t.mask.Has(sig) || tg.handlers.isIgnored(sig)
	tg.signalMu.Unlock()
	if ignored {
		if sig == linux.SIGTTIN {
			return linux.EIO
		}
		return nil
	}
	if k.orphanedGroupLocked(tg.pgid) {
		return linux.EIO
	}
	k.signalGroupLocked(tg.pgid, sig)
	return ErrInterrupted
}

// CheckRead applies the background rule with SIGTTIN before a read from
// the terminal. It returns nil, EIO, or ErrInterrupted when the caller
// was stopped and must restart. Contexts of no task always pass.
func (tc *TTYControl) CheckRead(ctx context.Context) error {
	return tc.check(ctx, linux.SIGTTIN)
}

// CheckChange applies the background rule with SIGTTOU before a write to
// the terminal with TOSTOP set, and before changing its settings
// (tcsetattr, tcflush, tcflow).
func (tc *TTYControl) CheckChange(ctx context.Context) error {
	return tc.check(ctx, linux.SIGTTOU)
}

func (tc *TTYControl) check(ctx context.Context, sig linux.Signal) error {
	t := TaskFromContext(ctx)
	if t == nil {
		return nil
	}
	defer tc.lockFor(t)()
	return tc.checkChangeLocked(t, sig)
}

// Opened implements the automatic acquisition of a controlling terminal
// when a session leader without one opens a terminal that controls no
// session, without O_NOCTTY and for reading (not by a `runsc do`
// command's session: see RootProcessAsCommand). Drivers call it after a
// successful open of a terminal that can be controlling (not a pty
// master).
func (tc *TTYControl) Opened(ctx context.Context, flags uint32) {
	t := TaskFromContext(ctx)
	if t == nil || flags&linux.O_NOCTTY != 0 || flags&linux.O_ACCMODE == linux.O_WRONLY {
		return
	}
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tg := t.tg
	if !tg.isSessionLeaderLocked() || k.controllingTTYLocked(tg) != nil || tc.sid != 0 || tg.sid == k.commandSession {
		return
	}
	tc.attachLocked(k, tg.sid, tg.pgid)
}

// SetControlling implements TIOCSCTTY: the caller, a session leader
// without a controlling terminal, makes tc its session's. A terminal
// controlling another session is taken from it only with steal (arg 1)
// and CAP_SYS_ADMIN; a file not open for reading needs CAP_SYS_ADMIN too.
func (tc *TTYControl) SetControlling(ctx context.Context, readable, steal bool) error {
	t := TaskFromContext(ctx)
	if t == nil {
		return linux.EPERM
	}
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tg := t.tg
	tc.adoptLocked(k, tg)
	leader := tg.isSessionLeaderLocked()
	if leader && tc.sid == tg.sid {
		return nil
	}
	if !leader || k.controllingTTYLocked(tg) != nil {
		return linux.EPERM
	}
	admin := t.Credentials().HasCapability(linux.CAP_SYS_ADMIN)
	if tc.sid != 0 {
		if !steal || !admin {
			return linux.EPERM
		}
		tc.detachLocked(k)
	}
	if !readable && !admin {
		return linux.EPERM
	}
	tc.attachLocked(k, tg.sid, tg.pgid)
	return nil
}

// ReleaseControlling implements TIOCNOTTY on tc: ENOTTY unless it is the
// caller's controlling terminal. A session leader gives it up for the
// whole session, and the foreground group is sent SIGHUP and SIGCONT;
// another process only stops having it.
func (tc *TTYControl) ReleaseControlling(ctx context.Context) error {
	t := TaskFromContext(ctx)
	if t == nil {
		return linux.ENOTTY
	}
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tg := t.tg
	tc.adoptLocked(k, tg)
	if k.controllingTTYLocked(tg) != tc {
		return linux.ENOTTY
	}
	if !tg.isSessionLeaderLocked() {
		s := k.ttySessions[tg.sid]
		if s.detached == nil {
			s.detached = make(map[*ThreadGroup]struct{})
		}
		s.detached[tg] = struct{}{}
		return nil
	}
	pgid := tc.pgid
	tc.detachLocked(k)
	k.signalGroupLocked(pgid, linux.SIGHUP)
	k.signalGroupLocked(pgid, linux.SIGCONT)
	return nil
}

// ForegroundProcessGroup implements TIOCGPGRP: the foreground group as an
// ID in the caller's namespace (0 if there is none or it is not visible).
// Unless asked through the pty master (viaMaster), tc must be the caller's
// controlling terminal (ENOTTY).
func (tc *TTYControl) ForegroundProcessGroup(ctx context.Context, viaMaster bool) (int32, error) {
	t := TaskFromContext(ctx)
	if t == nil {
		return 0, linux.ENOTTY
	}
	defer tc.lockFor(t)()
	k := t.k
	if !viaMaster && k.controllingTTYLocked(t.tg) != tc {
		return 0, linux.ENOTTY
	}
	if tc.pgid == 0 {
		return 0, nil
	}
	return int32(k.rootIDToNSLocked(t.tg.pidns, tc.pgid)), nil
}

// SessionID implements TIOCGSID: the session tc controls, as an ID in the
// caller's namespace; ENOTTY if it controls none or (unless viaMaster) is
// not the caller's controlling terminal.
func (tc *TTYControl) SessionID(ctx context.Context, viaMaster bool) (int32, error) {
	t := TaskFromContext(ctx)
	if t == nil {
		return 0, linux.ENOTTY
	}
	defer tc.lockFor(t)()
	k := t.k
	if !viaMaster && k.controllingTTYLocked(t.tg) != tc {
		return 0, linux.ENOTTY
	}
	if tc.sid == 0 {
		return 0, linux.ENOTTY
	}
	return int32(k.rootIDToNSLocked(t.tg.pidns, tc.sid)), nil
}

// SetForegroundProcessGroup implements TIOCSPGRP with pgid as the caller
// names it: a background caller is first sent SIGTTOU (as tcsetattr); tc
// must be the caller's controlling terminal (ENOTTY), pgid must name a
// process or group (ESRCH) of the caller's session (EPERM).
func (tc *TTYControl) SetForegroundProcessGroup(ctx context.Context, pgid int32) error {
	t := TaskFromContext(ctx)
	if t == nil {
		return linux.ENOTTY
	}
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tg := t.tg
	tc.adoptLocked(k, tg)
	if err := tc.checkChangeLocked(t, linux.SIGTTOU); err != nil {
		if err == linux.EIO {
			return linux.ENOTTY
		}
		return err
	}
	if pgid < 0 {
		return linux.EINVAL
	}
	if k.controllingTTYLocked(tg) != tc || tc.sid != tg.sid {
		return linux.ENOTTY
	}
	root := k.nsIDToRootLocked(tg.pidns, ThreadID(pgid))
	if root == 0 {
		return linux.ESRCH
	}
	// Linux takes the session of any member of the group, or of the
	// process with that ID when the group is empty.
	member := k.processGroupMemberLocked(root)
	if member == nil {
		member = k.rootPIDNS.groups[root]
	}
	if member == nil {
		return linux.ESRCH
	}
	if member.sid != tg.sid {
		return linux.EPERM
	}
	tc.pgid = root
	return nil
}

// SignalForeground sends sig to the terminal's foreground process group,
// if it has one (VINTR/VQUIT/VSUSP under ISIG, SIGWINCH on a window size
// change).
func (tc *TTYControl) SignalForeground(sig linux.Signal) {
	k := tc.k.Load()
	if k == nil {
		return
	}
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	k.signalGroupLocked(tc.pgid, sig)
}

// Hangup is called when the terminal hangs up (its pty master was
// closed): the session leader is sent SIGHUP and SIGCONT, the session
// loses its controlling terminal, and the foreground group is remembered
// to be sent SIGHUP and SIGCONT when the leader exits.
func (tc *TTYControl) Hangup() {
	k := tc.k.Load()
	if k == nil {
		return
	}
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	if tc.sid == 0 {
		return
	}
	s := k.ttySessions[tc.sid]
	if leader := k.rootPIDNS.groups[tc.sid]; leader != nil && leader.sid == tc.sid {
		info := func(sig linux.Signal) *linux.SignalInfo {
			return &linux.SignalInfo{Signo: int32(sig), Code: linux.SI_KERNEL}
		}
		leader.leader.sendSignalLocked(info(linux.SIGHUP), true, false)
		leader.leader.sendSignalLocked(info(linux.SIGCONT), true, false)
		if s != nil && s.tty == tc {
			s.tty, s.detached, s.oldPGID = nil, nil, tc.pgid
		}
	} else if s != nil && s.tty == tc {
		delete(k.ttySessions, tc.sid)
	}
	tc.sid, tc.pgid = 0, 0
}

// exitSessionTTYLocked is called when the last thread of tg exits. If tg
// leads a session, the session's controlling terminal (or, after a hangup,
// the group that was in its foreground) is told: its foreground group is
// sent SIGHUP, and the terminal controls no session any more. Requires
// tasksMu held for writing.
func (tg *ThreadGroup) exitSessionTTYLocked() {
	k := tg.k
	if k.ttySessions == nil || !tg.isSessionLeaderLocked() {
		return
	}
	s := k.ttySessions[tg.sid]
	if s == nil {
		return
	}
	delete(k.ttySessions, tg.sid)
	if tc := s.tty; tc != nil {
		pgid := tc.pgid
		tc.sid, tc.pgid = 0, 0
		k.signalGroupLocked(pgid, linux.SIGHUP)
		return
	}
	k.signalGroupLocked(s.oldPGID, linux.SIGHUP)
	k.signalGroupLocked(s.oldPGID, linux.SIGCONT)
}

// TTYStat returns what /proc/PID/stat shows of tg's controlling terminal:
// tty_nr, its device number in the kernel's encoding (0 for none), and
// tpgid, its foreground process group as an ID of ns (-1 for none).
func (tg *ThreadGroup) TTYStat(ns *PIDNamespace) (ttyNr, tpgid int32) {
	k := tg.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	tc := k.controllingTTYLocked(tg)
	if tc == nil {
		return 0, -1
	}
	major, minor := tc.tty.TTYDevice()
	ttyNr = int32(minor&0xff | major&0xfff<<8 | (minor&^0xff)<<12)
	tpgid = -1
	if tc.pgid != 0 {
		if id := k.rootIDToNSLocked(ns, tc.pgid); id != 0 {
			tpgid = int32(id)
		}
	}
	return ttyNr, tpgid
}
