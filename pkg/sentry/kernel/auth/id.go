package auth

import "appkernel.dev/appkernel/pkg/abi/linux"

// KUID is a user ID as the kernel compares it, independent of any user
// namespace's view of it.
type KUID uint32

// KGID is a group ID as the kernel compares it.
type KGID uint32

const (
	// RootKUID and RootKGID are the IDs of the initial namespace's root.
	RootKUID KUID = 0
	RootKGID KGID = 0

	// NoID is the (uid_t)-1 sentinel of set*id calls: "leave unchanged",
	// and also the KUID of an ID that has no mapping.
	NoID = linux.NoID

	// OverflowKUID and OverflowKGID are "nobody": what anonymous
	// credentials carry, and what an unmapped ID reads as.
	OverflowKUID KUID = linux.OverflowUID
	OverflowKGID KGID = linux.OverflowGID
)

// Ok reports whether uid is a valid ID (not the -1 sentinel).
func (uid KUID) Ok() bool { return uint32(uid) != NoID }

// Ok reports whether gid is a valid ID (not the -1 sentinel).
func (gid KGID) Ok() bool { return uint32(gid) != NoID }

// UserNamespace is a user namespace. Today there is only the root one and
// it maps every ID to itself; the type exists so that credentials already
// say which namespace their capabilities apply in.
//
// +stateify savable
type UserNamespace struct {
	// parent is nil for the root namespace.
	parent *UserNamespace
	// owner is the effective UID of the creator; it holds every
	// capability in the namespace (and its descendants).
	owner KUID
}

// NewRootUserNamespace returns a new initial user namespace.
func NewRootUserNamespace() *UserNamespace { return &UserNamespace{} }

// Parent returns the parent namespace, nil for the root.
func (ns *UserNamespace) Parent() *UserNamespace { return ns.parent }

// MapFromKUID returns the ID uid has inside ns (identity for now), or
// NoID if it has none.
func (ns *UserNamespace) MapFromKUID(uid KUID) uint32 { return uint32(uid) }

// MapFromKGID is MapFromKUID for groups.
func (ns *UserNamespace) MapFromKGID(gid KGID) uint32 { return uint32(gid) }

// MapToKUID returns the kernel ID that uid inside ns stands for.
func (ns *UserNamespace) MapToKUID(uid uint32) KUID { return KUID(uid) }

// MapToKGID is MapToKUID for groups.
func (ns *UserNamespace) MapToKGID(gid uint32) KGID { return KGID(gid) }
