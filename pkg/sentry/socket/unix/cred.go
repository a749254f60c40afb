package unix

import (
	"context"
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// cred is a process's identity as SO_PEERCRED reports it, captured when
// the connection is made (Linux's sk_peer_pid and sk_peer_cred).
type cred struct {
	tg  *kernel.ThreadGroup
	uid auth.KUID
	gid auth.KGID
}

// credOf returns the identity of the task ctx belongs to, nil for work
// done on no task's behalf.
func credOf(ctx context.Context) *cred {
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		return nil
	}
	c := t.Credentials()
	return &cred{tg: t.ThreadGroup(), uid: c.EffectiveKUID, gid: c.EffectiveKGID}
}

// ucred encodes c as struct ucred seen by the task of ctx: the TGID in
// its PID namespace and the IDs in its user namespace. Without a peer it
// is {0, -1, -1}, as on Linux.
func (c *cred) ucred(ctx context.Context) []byte {
	pid, uid, gid := uint32(0), ^uint32(0), ^uint32(0)
	if t := kernel.TaskFromContext(ctx); c != nil && t != nil {
		pid = uint32(t.ThreadGroupIDOf(c.tg))
		ns := t.Credentials().UserNamespace
		uid, gid = ns.MapFromKUID(c.uid), ns.MapFromKGID(c.gid)
	}
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b[0:], pid)
	binary.LittleEndian.PutUint32(b[4:], uid)
	binary.LittleEndian.PutUint32(b[8:], gid)
	return b
}
