package auth

import "appkernel.dev/appkernel/pkg/abi/linux"

// CapabilitySet is a set of capabilities, bit n standing for capability n.
type CapabilitySet uint64

// AllCapabilities holds every capability the ABI knows.
const AllCapabilities = CapabilitySet(1)<<(linux.CAP_LAST_CAP+1) - 1

// CapabilitySetOf returns the set holding only cp.
func CapabilitySetOf(cp linux.Capability) CapabilitySet { return CapabilitySet(1) << uint(cp) }

// CapabilitySetOfMany returns the set holding every capability in cps.
func CapabilitySetOfMany(cps ...linux.Capability) CapabilitySet {
	var s CapabilitySet
	for _, cp := range cps {
		s |= CapabilitySetOf(cp)
	}
	return s
}

// Has reports whether cp is in s.
func (s CapabilitySet) Has(cp linux.Capability) bool {
	return cp.Ok() && s&CapabilitySetOf(cp) != 0
}
