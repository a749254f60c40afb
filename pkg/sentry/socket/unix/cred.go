package unix

import (
	"context"
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// cred is a process's identity as SO_PEERCRED reports it, captured when
// the connection is made (Linux's sk_peer_pid and sk_peer_cred), or as
// SCM_CREDENTIALS reports a message's sender.
type cred struct {
	tg  *kernel.ThreadGroup
	uid auth.KUID
	gid auth.KGID
	// pid is tg's TGID in its own namespace when captured: Linux's
	// struct pid keeps its number after the process is reaped, and so
	// does what SO_PEERCRED and SCM_CREDENTIALS report.
	pid kernel.ThreadID
}

// pidSeenBy returns c's process ID in the PID namespace of t: 0 if it
// has none there.
func (c *cred) pidSeenBy(t *kernel.Task) uint32 {
	if id := t.ThreadGroupIDOf(c.tg); id != 0 {
		return uint32(id)
	}
	if t.ThreadGroup().PIDNamespace() == c.tg.PIDNamespace() {
		return uint32(c.pid)
	}
	return 0
}

// credOf returns the identity of the task ctx belongs to, nil for work
// done on no task's behalf.
func credOf(ctx context.Context) *cred {
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		return nil
	}
	c := t.Credentials()
	return &cred{tg: t.ThreadGroup(), uid: c.EffectiveKUID, gid: c.EffectiveKGID, pid: t.ThreadGroup().ID()}
}

// ucred encodes c as struct ucred seen by the task of ctx: the TGID in
// its PID namespace and the IDs in its user namespace. Without a peer it
// is {0, -1, -1}, as on Linux.
func (c *cred) ucred(ctx context.Context) []byte { return c.seenBy(ctx, ^uint32(0)) }

// seenBy lays out struct ucred for c as the task of ctx sees it, or
// {0, none, none} if c is nil.
func (c *cred) seenBy(ctx context.Context, none uint32) []byte {
	pid, uid, gid := uint32(0), none, none
	if t := kernel.TaskFromContext(ctx); c != nil && t != nil {
		pid = c.pidSeenBy(t)
		ns := t.Credentials().UserNamespace
		uid, gid = ns.MapFromKUID(c.uid), ns.MapFromKGID(c.gid)
	}
	b := make([]byte, socket.SizeofUcred)
	binary.LittleEndian.PutUint32(b[0:], pid)
	binary.LittleEndian.PutUint32(b[4:], uid)
	binary.LittleEndian.PutUint32(b[8:], gid)
	return b
}

// senderOf returns the identity a message sent by the task of ctx
// carries when either end has SO_PASSCRED: its process and its real
// IDs, as Linux's scm_set_cred(current_uid(), current_gid()).
func senderOf(ctx context.Context) *cred {
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		return nil
	}
	c := t.Credentials()
	return &cred{tg: t.ThreadGroup(), uid: c.RealKUID, gid: c.RealKGID, pid: t.ThreadGroup().ID()}
}

// sameSender reports whether two messages came with the same
// credentials; a stream read with SO_PASSCRED never joins messages that
// did not (Linux's unix_skb_scm_eq).
func sameSender(a, b *cred) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// scmCredentials lays out the SCM_CREDENTIALS control message of a
// message sent with credentials c as the task of ctx receives it. A
// message sent while neither end had SO_PASSCRED carries none: Linux
// then reports PID 0 and the overflow IDs.
func scmCredentials(ctx context.Context, c *cred) []byte {
	return socket.AppendCmsg(nil, socket.SOL_SOCKET, socket.SCM_CREDENTIALS, c.seenBy(ctx, linux.OverflowUID))
}
