// Package ipc holds what System V shared memory, semaphores and message
// queues have in common: the ipc_perm record with its permission checks,
// and the registry that hands out identifiers and resolves keys, with the
// IPC_CREAT/IPC_EXCL rules of shmget/semget/msgget (sysvipc(7)).
//
// A registry belongs to one IPC namespace. It has no lock of its own: the
// subsystem that embeds it (shm, semaphore, msgqueue) guards it together
// with its objects.
//
// IPC objects are not checkpointed yet: tasks reach their namespace
// through a side table that is not saved (kernel/ipc_namespace.go).
package ipc

import (
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// MaxIndex is IPCMNI: identifiers are seq*MaxIndex + index, with index
// below MaxIndex.
const MaxIndex = 32768

// Perm is an object's struct kern_ipc_perm.
type Perm struct {
	// Key is the key the object was created with; IPC_PRIVATE once it
	// was removed while still in use.
	Key int32
	// ID is the identifier the *get calls return.
	ID int32
	// Seq is the sequence part of ID.
	Seq uint16

	UID  auth.KUID
	GID  auth.KGID
	CUID auth.KUID
	CGID auth.KGID
	// Mode holds the permission bits (0777) and subsystem flags above
	// them (SHM_DEST, SHM_LOCKED).
	Mode uint32
}

// NewPerm returns the record of an object that creds creates with key and
// the permission bits of flags.
func NewPerm(creds *auth.Credentials, key int32, flags int32) Perm {
	return Perm{
		Key:  key,
		UID:  creds.EffectiveKUID,
		GID:  creds.EffectiveKGID,
		CUID: creds.EffectiveKUID,
		CGID: creds.EffectiveKGID,
		Mode: uint32(flags) & 0777,
	}
}

// ABI returns p as struct ipc64_perm, IDs seen from creds' user namespace.
func (p *Perm) ABI(creds *auth.Credentials) linux.IPCPerm {
	ns := creds.UserNamespace
	return linux.IPCPerm{
		Key:  p.Key,
		UID:  ns.MapFromKUID(p.UID),
		GID:  ns.MapFromKGID(p.GID),
		CUID: ns.MapFromKUID(p.CUID),
		CGID: ns.MapFromKGID(p.CGID),
		Mode: p.Mode,
		Seq:  p.Seq,
	}
}

// Access reports whether creds may access the object as flag asks:
// flag's bits in any of the three rwx classes (as shmget's 0600 or shmat's
// S_IRUGO|S_IWUGO) name the accesses wanted. This is Linux's ipcperms:
// the owner class applies to the owner and the creator, the group class
// to either group, and CAP_IPC_OWNER overrides.
func (p *Perm) Access(creds *auth.Credentials, flag uint32) bool {
	requested := (flag >> 6) | (flag >> 3) | flag
	granted := p.Mode
	switch {
	case creds.EffectiveKUID == p.CUID || creds.EffectiveKUID == p.UID:
		granted >>= 6
	case creds.InGroup(p.CGID) || creds.InGroup(p.GID):
		granted >>= 3
	}
	if requested&^granted&07 == 0 {
		return true
	}
	return creds.HasCapability(linux.CAP_IPC_OWNER)
}

// IsOwner reports whether creds may IPC_SET or IPC_RMID the object: its
// owner, its creator, or a holder of CAP_SYS_ADMIN.
func (p *Perm) IsOwner(creds *auth.Credentials) bool {
	return creds.EffectiveKUID == p.CUID || creds.EffectiveKUID == p.UID ||
		creds.HasCapability(linux.CAP_SYS_ADMIN)
}

// Set applies IPC_SET's owner and mode change from in, whose IDs are in
// creds' user namespace. It fails with EINVAL for an unmapped ID.
func (p *Perm) Set(creds *auth.Credentials, in *linux.IPCPerm) error {
	ns := creds.UserNamespace
	uid, gid := ns.MapToKUID(in.UID), ns.MapToKGID(in.GID)
	if !uid.Ok() || !gid.Ok() {
		return linux.EINVAL
	}
	p.UID, p.GID = uid, gid
	p.Mode = p.Mode&^0777 | in.Mode&0777
	return nil
}

// Now is the time stamp the *_time fields hold: seconds since the epoch.
func Now() int64 { return time.Now().Unix() }
