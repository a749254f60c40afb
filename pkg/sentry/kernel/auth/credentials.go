package auth

import (
	"slices"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Credentials is the identity a task acts with (credentials(7),
// capabilities(7)). A Credentials value is immutable once published: a task
// that changes its IDs installs a modified Fork(), so readers never need a
// lock and may keep a pointer for the duration of an operation.
//
// +stateify savable
type Credentials struct {
	RealKUID      KUID
	EffectiveKUID KUID
	SavedKUID     KUID
	// FSKUID is what file permission checks and file creation use; it
	// follows EffectiveKUID unless setfsuid(2) moves it.
	FSKUID KUID

	RealKGID      KGID
	EffectiveKGID KGID
	SavedKGID     KGID
	FSKGID        KGID

	// ExtraKGIDs are the supplementary groups.
	ExtraKGIDs []KGID

	PermittedCaps   CapabilitySet
	InheritableCaps CapabilitySet
	EffectiveCaps   CapabilitySet
	BoundingCaps    CapabilitySet
	AmbientCaps     CapabilitySet

	// SecureBits are the SECBIT_* flags of prctl(PR_SET_SECUREBITS);
	// KeepCaps is SECBIT_KEEP_CAPS, kept apart because setuid transitions
	// consult it and execve clears it.
	SecureBits uint32
	KeepCaps   bool

	// UserNamespace is the namespace the capability sets apply in.
	UserNamespace *UserNamespace
}

// NewRootCredentials returns credentials of the root user of ns with every
// capability.
func NewRootCredentials(ns *UserNamespace) *Credentials {
	return &Credentials{
		RealKUID: RootKUID, EffectiveKUID: RootKUID, SavedKUID: RootKUID, FSKUID: RootKUID,
		RealKGID: RootKGID, EffectiveKGID: RootKGID, SavedKGID: RootKGID, FSKGID: RootKGID,
		PermittedCaps: AllCapabilities,
		EffectiveCaps: AllCapabilities,
		BoundingCaps:  AllCapabilities,
		UserNamespace: ns,
	}
}

// NewUserCredentials returns credentials for uid/gid with the given
// supplementary groups. Root (uid 0) starts with every capability, as
// after an execve by root; any other user starts with none.
func NewUserCredentials(uid KUID, gid KGID, extra []KGID, ns *UserNamespace) *Credentials {
	c := NewRootCredentials(ns)
	c.RealKUID, c.EffectiveKUID, c.SavedKUID, c.FSKUID = uid, uid, uid, uid
	c.RealKGID, c.EffectiveKGID, c.SavedKGID, c.FSKGID = gid, gid, gid, gid
	c.ExtraKGIDs = slices.Clone(extra)
	if uid != RootKUID {
		c.PermittedCaps, c.EffectiveCaps = 0, 0
	}
	return c
}

// NewAnonymousCredentials returns credentials of "nobody" with no
// capabilities, which is what code runs with when no task supplied any.
func NewAnonymousCredentials() *Credentials {
	return &Credentials{
		RealKUID: OverflowKUID, EffectiveKUID: OverflowKUID, SavedKUID: OverflowKUID, FSKUID: OverflowKUID,
		RealKGID: OverflowKGID, EffectiveKGID: OverflowKGID, SavedKGID: OverflowKGID, FSKGID: OverflowKGID,
		UserNamespace: NewRootUserNamespace(),
	}
}

// Fork returns a copy of c that the caller may modify before publishing.
func (c *Credentials) Fork() *Credentials {
	n := *c
	n.ExtraKGIDs = slices.Clone(c.ExtraKGIDs)
	return &n
}

// InGroup reports whether gid is c's filesystem group or one of its
// supplementary groups, the test that selects the group permission bits.
func (c *Credentials) InGroup(gid KGID) bool {
	return c.FSKGID == gid || slices.Contains(c.ExtraKGIDs, gid)
}

// HasCapability reports whether c has cp in its effective set, in its own
// user namespace.
func (c *Credentials) HasCapability(cp linux.Capability) bool {
	return c.HasCapabilityIn(cp, c.UserNamespace)
}

// HasCapabilityIn reports whether c has cp in ns: c's effective set counts
// in c's own namespace, and the owner of a namespace holds every
// capability in it and in its descendants.
func (c *Credentials) HasCapabilityIn(cp linux.Capability, ns *UserNamespace) bool {
	for ; ns != nil; ns = ns.parent {
		if ns == c.UserNamespace {
			return c.EffectiveCaps.Has(cp)
		}
		if ns.parent == c.UserNamespace && ns.owner == c.EffectiveKUID {
			return true
		}
	}
	return false
}
