package msgqueue

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/kernel/ipc"
)

// This file holds msgctl(2)'s commands.

// Stat implements IPC_STAT (by ID), MSG_STAT and MSG_STAT_ANY (by
// index), returning what msgctl returns besides: 0, or the queue's ID.
func (r *Registry) Stat(creds *auth.Credentials, id int32, cmd int32) (linux.MsqidDS, int32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var q *Queue
	var err error
	if cmd == linux.IPC_STAT {
		q, err = r.ids.Lookup(id)
	} else {
		q, err = r.ids.ByIndex(id)
	}
	if err != nil {
		return linux.MsqidDS{}, 0, err
	}
	if cmd != linux.MSG_STAT_ANY && !q.perm.Access(creds, 0444) {
		return linux.MsqidDS{}, 0, linux.EACCES
	}
	ret := int32(0)
	if cmd != linux.IPC_STAT {
		ret = q.perm.ID
	}
	return linux.MsqidDS{
		Perm:   q.perm.ABI(creds),
		Stime:  q.stime,
		Rtime:  q.rtime,
		Ctime:  q.ctime,
		Cbytes: q.cbytes,
		Qnum:   uint64(len(q.msgs)),
		Qbytes: q.qbytes,
		Lspid:  q.lspid,
		Lrpid:  q.lrpid,
	}, ret, nil
}

// Set implements IPC_SET: owner, mode and msg_qbytes, which only
// CAP_SYS_RESOURCE may raise above kernel.msgmnb. Senders waiting for
// room look again.
func (r *Registry) Set(creds *auth.Credentials, id int32, ds *linux.MsqidDS) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, err := r.ids.Lookup(id)
	if err != nil {
		return err
	}
	if !q.perm.IsOwner(creds) {
		return linux.EPERM
	}
	if ds.Qbytes > uint64(r.msgMnb) && !creds.HasCapability(linux.CAP_SYS_RESOURCE) {
		return linux.EPERM
	}
	if err := q.perm.Set(creds, &ds.Perm); err != nil {
		return err
	}
	q.qbytes = ds.Qbytes
	q.ctime = ipc.Now()
	q.wakeLocked()
	return nil
}

// Remove implements IPC_RMID: queued messages are dropped and blocked
// callers fail with EIDRM.
func (r *Registry) Remove(creds *auth.Credentials, id int32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, err := r.ids.Lookup(id)
	if err != nil {
		return err
	}
	if !q.perm.IsOwner(creds) {
		return linux.EPERM
	}
	q.dead = true
	r.ids.Remove(q)
	r.totalMsgs -= len(q.msgs)
	r.totalBytes -= int(q.cbytes)
	q.msgs, q.cbytes = nil, 0
	q.wakeLocked()
	return nil
}

// Info implements IPC_INFO and, with usage, MSG_INFO (which reports the
// number of queues, messages and bytes in msgpool, msgmap and msgtql). It
// also returns the highest index in use.
func (r *Registry) Info(usage bool) (linux.MsgInfo, int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	info := linux.MsgInfo{
		MsgPool: linux.MSGPOOL,
		MsgMap:  linux.MSGMAP,
		MsgMax:  int32(r.msgMax),
		MsgMnb:  int32(r.msgMnb),
		MsgMni:  int32(r.msgMni),
		MsgSsz:  linux.MSGSSZ,
		MsgTql:  linux.MSGTQL,
		MsgSeg:  linux.MSGSEG,
	}
	if usage {
		info.MsgPool = int32(r.ids.InUse())
		info.MsgMap = int32(r.totalMsgs)
		info.MsgTql = int32(r.totalBytes)
	}
	return info, r.ids.HighestIndex()
}
