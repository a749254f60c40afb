package kernel

import (
	"slices"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// Credential changes: the set*id family, setgroups and capset. Each
// builds a modified copy of the task's credentials and installs it, since
// published credentials are immutable.

// Securebits consulted by uid transitions (capabilities(7)).
const (
	secbitNoSetuidFixup = 1 << 2
	secbitKeepCaps      = 1 << 4
)

// fsCapabilities are the capabilities that follow the filesystem UID
// between 0 and non-zero (Linux's CAP_FS_SET).
var fsCapabilities = auth.CapabilitySetOfMany(linux.CAP_CHOWN, linux.CAP_DAC_OVERRIDE,
	linux.CAP_DAC_READ_SEARCH, linux.CAP_FOWNER, linux.CAP_FSETID, linux.CAP_MKNOD,
	linux.CAP_MAC_OVERRIDE, linux.CAP_LINUX_IMMUTABLE)

// UIDChange says which of the real, effective and saved user (or group)
// IDs a set*id call asks for; NoID leaves one unchanged.
type UIDChange struct {
	Real, Effective, Saved uint32
}

// mapUID converts an application's uid to a KUID; -1 stays NoID and an
// unmappable ID is EINVAL.
func mapUID(c *auth.Credentials, id uint32) (auth.KUID, error) {
	if id == linux.NoID {
		return auth.KUID(auth.NoID), nil
	}
	k := c.UserNamespace.MapToKUID(id)
	if !k.Ok() {
		return 0, linux.EINVAL
	}
	return k, nil
}

func mapGID(c *auth.Credentials, id uint32) (auth.KGID, error) {
	if id == linux.NoID {
		return auth.KGID(auth.NoID), nil
	}
	k := c.UserNamespace.MapToKGID(id)
	if !k.Ok() {
		return 0, linux.EINVAL
	}
	return k, nil
}

// SetUIDCreds returns c after setuid(2) to uid. With CAP_SETUID every
// user ID becomes uid; otherwise uid must be the real or saved UID, and
// only the effective (and filesystem) UID change.
func SetUIDCreds(c *auth.Credentials, uid uint32) (*auth.Credentials, error) {
	k, err := mapUID(c, uid)
	if err != nil || !k.Ok() {
		return nil, linux.EINVAL
	}
	n := c.Fork()
	if c.HasCapability(linux.CAP_SETUID) {
		n.RealKUID, n.EffectiveKUID, n.SavedKUID = k, k, k
	} else if k == c.RealKUID || k == c.SavedKUID {
		n.EffectiveKUID = k
	} else {
		return nil, linux.EPERM
	}
	n.FSKUID = n.EffectiveKUID
	fixCapsAfterUIDChange(c, n)
	return n, nil
}

// SetREUIDCreds returns c after setreuid(2): the new real UID must be the
// old real or effective UID, the new effective one any old real,
// effective or saved UID, unless c has CAP_SETUID. The saved UID follows
// the effective one when the real UID is set or the effective UID leaves
// the real one.
func SetREUIDCreds(c *auth.Credentials, ruid, euid uint32) (*auth.Credentials, error) {
	r, err := mapUID(c, ruid)
	if err != nil {
		return nil, err
	}
	e, err := mapUID(c, euid)
	if err != nil {
		return nil, err
	}
	priv := c.HasCapability(linux.CAP_SETUID)
	n := c.Fork()
	if r.Ok() {
		if !priv && r != c.RealKUID && r != c.EffectiveKUID {
			return nil, linux.EPERM
		}
		n.RealKUID = r
	}
	if e.Ok() {
		if !priv && e != c.RealKUID && e != c.EffectiveKUID && e != c.SavedKUID {
			return nil, linux.EPERM
		}
		n.EffectiveKUID = e
	}
	if r.Ok() || (e.Ok() && e != c.RealKUID) {
		n.SavedKUID = n.EffectiveKUID
	}
	n.FSKUID = n.EffectiveKUID
	fixCapsAfterUIDChange(c, n)
	return n, nil
}

// SetRESUIDCreds returns c after setresuid(2): without CAP_SETUID each
// new ID must be one of the old real, effective or saved UIDs.
func SetRESUIDCreds(c *auth.Credentials, ch UIDChange) (*auth.Credentials, error) {
	var ids [3]auth.KUID
	for i, id := range []uint32{ch.Real, ch.Effective, ch.Saved} {
		k, err := mapUID(c, id)
		if err != nil {
			return nil, err
		}
		ids[i] = k
	}
	priv := c.HasCapability(linux.CAP_SETUID)
	for _, k := range ids {
		if k.Ok() && !priv && k != c.RealKUID && k != c.EffectiveKUID && k != c.SavedKUID {
			return nil, linux.EPERM
		}
	}
	n := c.Fork()
	if ids[0].Ok() {
		n.RealKUID = ids[0]
	}
	if ids[1].Ok() {
		n.EffectiveKUID = ids[1]
	}
	if ids[2].Ok() {
		n.SavedKUID = ids[2]
	}
	n.FSKUID = n.EffectiveKUID
	fixCapsAfterUIDChange(c, n)
	return n, nil
}

// fixCapsAfterUIDChange applies capabilities(7)'s "effect of user ID
// changes on capabilities" to n, derived from old.
func fixCapsAfterUIDChange(old, n *auth.Credentials) {
	if old.SecureBits&secbitNoSetuidFixup != 0 {
		return
	}
	const root = auth.RootKUID
	hadRoot := old.RealKUID == root || old.EffectiveKUID == root || old.SavedKUID == root
	hasRoot := n.RealKUID == root || n.EffectiveKUID == root || n.SavedKUID == root
	if hadRoot && !hasRoot {
		if !old.KeepCaps && old.SecureBits&secbitKeepCaps == 0 {
			n.PermittedCaps = 0
			n.EffectiveCaps = 0
		}
		n.AmbientCaps = 0
	}
	if old.EffectiveKUID == root && n.EffectiveKUID != root {
		n.EffectiveCaps = 0
	}
	if old.EffectiveKUID != root && n.EffectiveKUID == root {
		n.EffectiveCaps = n.PermittedCaps
	}
	fixCapsAfterFSUIDChange(old.FSKUID, n)
}

// fixCapsAfterFSUIDChange drops the filesystem capabilities when the
// filesystem UID leaves 0, and restores the permitted ones when it
// returns.
func fixCapsAfterFSUIDChange(oldFS auth.KUID, n *auth.Credentials) {
	if n.SecureBits&secbitNoSetuidFixup != 0 {
		return
	}
	if oldFS == auth.RootKUID && n.FSKUID != auth.RootKUID {
		n.EffectiveCaps &^= fsCapabilities
	}
	if oldFS != auth.RootKUID && n.FSKUID == auth.RootKUID {
		n.EffectiveCaps |= n.PermittedCaps & fsCapabilities
	}
}

// SetGIDCreds is SetUIDCreds for groups, with CAP_SETGID.
func SetGIDCreds(c *auth.Credentials, gid uint32) (*auth.Credentials, error) {
	k, err := mapGID(c, gid)
	if err != nil || !k.Ok() {
		return nil, linux.EINVAL
	}
	n := c.Fork()
	if c.HasCapability(linux.CAP_SETGID) {
		n.RealKGID, n.EffectiveKGID, n.SavedKGID = k, k, k
	} else if k == c.RealKGID || k == c.SavedKGID {
		n.EffectiveKGID = k
	} else {
		return nil, linux.EPERM
	}
	n.FSKGID = n.EffectiveKGID
	return n, nil
}

// SetREGIDCreds is SetREUIDCreds for groups.
func SetREGIDCreds(c *auth.Credentials, rgid, egid uint32) (*auth.Credentials, error) {
	r, err := mapGID(c, rgid)
	if err != nil {
		return nil, err
	}
	e, err := mapGID(c, egid)
	if err != nil {
		return nil, err
	}
	priv := c.HasCapability(linux.CAP_SETGID)
	n := c.Fork()
	if r.Ok() {
		if !priv && r != c.RealKGID && r != c.EffectiveKGID {
			return nil, linux.EPERM
		}
		n.RealKGID = r
	}
	if e.Ok() {
		if !priv && e != c.RealKGID && e != c.EffectiveKGID && e != c.SavedKGID {
			return nil, linux.EPERM
		}
		n.EffectiveKGID = e
	}
	if r.Ok() || (e.Ok() && e != c.RealKGID) {
		n.SavedKGID = n.EffectiveKGID
	}
	n.FSKGID = n.EffectiveKGID
	return n, nil
}

// SetRESGIDCreds is SetRESUIDCreds for groups.
func SetRESGIDCreds(c *auth.Credentials, ch UIDChange) (*auth.Credentials, error) {
	var ids [3]auth.KGID
	for i, id := range []uint32{ch.Real, ch.Effective, ch.Saved} {
		k, err := mapGID(c, id)
		if err != nil {
			return nil, err
		}
		ids[i] = k
	}
	priv := c.HasCapability(linux.CAP_SETGID)
	for _, k := range ids {
		if k.Ok() && !priv && k != c.RealKGID && k != c.EffectiveKGID && k != c.SavedKGID {
			return nil, linux.EPERM
		}
	}
	n := c.Fork()
	if ids[0].Ok() {
		n.RealKGID = ids[0]
	}
	if ids[1].Ok() {
		n.EffectiveKGID = ids[1]
	}
	if ids[2].Ok() {
		n.SavedKGID = ids[2]
	}
	n.FSKGID = n.EffectiveKGID
	return n, nil
}

// SetFSUIDCreds returns c after setfsuid(2) and the old filesystem UID.
// The change happens only if uid is one of c's user IDs or c has
// CAP_SETUID; either way the old value is returned (n is nil when
// nothing changes).
func SetFSUIDCreds(c *auth.Credentials, uid uint32) (n *auth.Credentials, old uint32) {
	old = c.UserNamespace.MapFromKUID(c.FSKUID)
	k, err := mapUID(c, uid)
	if err != nil || !k.Ok() {
		return nil, old
	}
	if k != c.RealKUID && k != c.EffectiveKUID && k != c.SavedKUID && k != c.FSKUID &&
		!c.HasCapability(linux.CAP_SETUID) {
		return nil, old
	}
	if k == c.FSKUID {
		return nil, old
	}
	n = c.Fork()
	n.FSKUID = k
	fixCapsAfterFSUIDChange(c.FSKUID, n)
	return n, old
}

// SetFSGIDCreds is SetFSUIDCreds for groups, with CAP_SETGID.
func SetFSGIDCreds(c *auth.Credentials, gid uint32) (n *auth.Credentials, old uint32) {
	old = c.UserNamespace.MapFromKGID(c.FSKGID)
	k, err := mapGID(c, gid)
	if err != nil || !k.Ok() {
		return nil, old
	}
	if k != c.RealKGID && k != c.EffectiveKGID && k != c.SavedKGID && k != c.FSKGID &&
		!c.HasCapability(linux.CAP_SETGID) {
		return nil, old
	}
	if k == c.FSKGID {
		return nil, old
	}
	n = c.Fork()
	n.FSKGID = k
	return n, old
}

// SetGroupsCreds returns c with supplementary groups gids (setgroups(2)),
// which needs CAP_SETGID. They are kept sorted, as Linux keeps them.
func SetGroupsCreds(c *auth.Credentials, gids []uint32) (*auth.Credentials, error) {
	if len(gids) > linux.NGROUPS_MAX {
		return nil, linux.EINVAL
	}
	if !c.HasCapability(linux.CAP_SETGID) {
		return nil, linux.EPERM
	}
	ks := make([]auth.KGID, 0, len(gids))
	for _, g := range gids {
		k := c.UserNamespace.MapToKGID(g)
		if !k.Ok() {
			return nil, linux.EINVAL
		}
		ks = append(ks, k)
	}
	slices.Sort(ks)
	n := c.Fork()
	n.ExtraKGIDs = ks
	return n, nil
}

// CapSets are the three capability sets capget/capset exchange.
type CapSets struct {
	Effective, Permitted, Inheritable auth.CapabilitySet
}

// SetCapsCreds returns c with the capability sets of capset(2): the
// permitted set may only shrink, the effective set must lie within the
// new permitted one, and the inheritable set may only gain capabilities
// that are permitted (any within the bounding set with CAP_SETPCAP) and
// in the bounding set. Ambient capabilities no longer both permitted and
// inheritable are dropped.
func SetCapsCreds(c *auth.Credentials, s CapSets) (*auth.Credentials, error) {
	known := auth.AllCapabilities
	s.Effective &= known
	s.Permitted &= known
	s.Inheritable &= known
	if !c.HasCapability(linux.CAP_SETPCAP) && s.Inheritable&^(c.InheritableCaps|c.PermittedCaps) != 0 {
		return nil, linux.EPERM
	}
	if s.Inheritable&^(c.InheritableCaps|c.BoundingCaps) != 0 {
		return nil, linux.EPERM
	}
	if s.Permitted&^c.PermittedCaps != 0 {
		return nil, linux.EPERM
	}
	if s.Effective&^s.Permitted != 0 {
		return nil, linux.EPERM
	}
	n := c.Fork()
	n.EffectiveCaps, n.PermittedCaps, n.InheritableCaps = s.Effective, s.Permitted, s.Inheritable
	n.AmbientCaps &= s.Permitted & s.Inheritable
	return n, nil
}

// updateCreds applies f to t's credentials and installs the result.
func (t *Task) updateCreds(f func(*auth.Credentials) (*auth.Credentials, error)) error {
	n, err := f(t.Credentials())
	if err != nil {
		return err
	}
	if n != nil {
		t.SetCredentials(n)
	}
	return nil
}

// SetUID implements setuid(2) for t.
func (t *Task) SetUID(uid uint32) error {
	return t.updateCreds(func(c *auth.Credentials) (*auth.Credentials, error) { return SetUIDCreds(c, uid) })
}

// SetREUID implements setreuid(2) for t.
func (t *Task) SetREUID(r, e uint32) error {
	return t.updateCreds(func(c *auth.Credentials) (*auth.Credentials, error) { return SetREUIDCreds(c, r, e) })
}

// SetRESUID implements setresuid(2) for t.
func (t *Task) SetRESUID(ch UIDChange) error {
	return t.updateCreds(func(c *auth.Credentials) (*auth.Credentials, error) { return SetRESUIDCreds(c, ch) })
}

// SetGID implements setgid(2) for t.
func (t *Task) SetGID(gid uint32) error {
	return t.updateCreds(func(c *auth.Credentials) (*auth.Credentials, error) { return SetGIDCreds(c, gid) })
}

// SetREGID implements setregid(2) for t.
func (t *Task) SetREGID(r, e uint32) error {
	return t.updateCreds(func(c *auth.Credentials) (*auth.Credentials, error) { return SetREGIDCreds(c, r, e) })
}

// SetRESGID implements setresgid(2) for t.
func (t *Task) SetRESGID(ch UIDChange) error {
	return t.updateCreds(func(c *auth.Credentials) (*auth.Credentials, error) { return SetRESGIDCreds(c, ch) })
}

// SetFSUID implements setfsuid(2) for t and returns the old filesystem
// UID; it never fails.
func (t *Task) SetFSUID(uid uint32) uint32 {
	n, old := SetFSUIDCreds(t.Credentials(), uid)
	if n != nil {
		t.SetCredentials(n)
	}
	return old
}

// SetFSGID implements setfsgid(2) for t.
func (t *Task) SetFSGID(gid uint32) uint32 {
	n, old := SetFSGIDCreds(t.Credentials(), gid)
	if n != nil {
		t.SetCredentials(n)
	}
	return old
}

// SetExtraGIDs implements setgroups(2) for t.
func (t *Task) SetExtraGIDs(gids []uint32) error {
	return t.updateCreds(func(c *auth.Credentials) (*auth.Credentials, error) { return SetGroupsCreds(c, gids) })
}

// SetCapabilities implements capset(2) for t.
func (t *Task) SetCapabilities(s CapSets) error {
	return t.updateCreds(func(c *auth.Credentials) (*auth.Credentials, error) { return SetCapsCreds(c, s) })
}

// CredentialsOf returns the credentials of thread tid in t's namespace
// (0 for t), or ESRCH.
func (t *Task) CredentialsOf(tid ThreadID) (*auth.Credentials, error) {
	target, err := t.lookupSchedTarget(tid)
	if err != nil {
		return nil, err
	}
	return target.Credentials(), nil
}
