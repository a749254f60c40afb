package auth

import "appkernel.dev/appkernel/pkg/abi/linux"

// AccessTypes is a set of the accesses a permission check asks for. The
// bit values are Linux's MAY_EXEC, MAY_WRITE and MAY_READ, which are also
// the rwx bits of one class of a file mode.
type AccessTypes uint16

const (
	MayExec  AccessTypes = 1
	MayWrite AccessTypes = 2
	MayRead  AccessTypes = 4
)

// MayReadWrite asks for both.
const MayReadWrite = MayRead | MayWrite

// AccessTypesForOpenFlags returns what open(2) with flags must be allowed:
// the access mode, plus write for O_TRUNC. O_ACCMODE's unused value 3
// asks for both read and write, as Linux does.
func AccessTypesForOpenFlags(flags uint32) AccessTypes {
	var ats AccessTypes
	switch flags & linux.O_ACCMODE {
	case linux.O_RDONLY:
		ats = MayRead
	case linux.O_WRONLY:
		ats = MayWrite
	default:
		ats = MayReadWrite
	}
	if flags&linux.O_TRUNC != 0 {
		ats |= MayWrite
	}
	return ats
}

// CheckPermission applies Linux's discretionary access control to an
// object with the given mode (type and permission bits) and owner: the
// owner, group or other class is chosen by creds' filesystem IDs, and when
// its bits do not grant ats, CAP_DAC_READ_SEARCH and CAP_DAC_OVERRIDE may.
// Directories may be read and searched with CAP_DAC_READ_SEARCH and
// written with CAP_DAC_OVERRIDE; other files may be read with
// CAP_DAC_READ_SEARCH, and read or written with CAP_DAC_OVERRIDE, which
// grants execution only when some execute bit is set. It returns EACCES
// when the access is denied.
func CheckPermission(creds *Credentials, mode linux.FileMode, uid KUID, gid KGID, ats AccessTypes) error {
	ats &= MayRead | MayWrite | MayExec
	var bits AccessTypes
	switch {
	case creds.FSKUID == uid:
		bits = AccessTypes(mode>>6) & 7
	case creds.InGroup(gid):
		bits = AccessTypes(mode>>3) & 7
	default:
		bits = AccessTypes(mode) & 7
	}
	if ats&^bits == 0 {
		return nil
	}
	if mode.IsDir() {
		if ats&MayWrite == 0 && creds.HasCapability(linux.CAP_DAC_READ_SEARCH) {
			return nil
		}
		if creds.HasCapability(linux.CAP_DAC_OVERRIDE) {
			return nil
		}
		return linux.EACCES
	}
	if ats == MayRead && creds.HasCapability(linux.CAP_DAC_READ_SEARCH) {
		return nil
	}
	if ats&MayExec == 0 || mode&(linux.S_IXUSR|linux.S_IXGRP|linux.S_IXOTH) != 0 {
		if creds.HasCapability(linux.CAP_DAC_OVERRIDE) {
			return nil
		}
	}
	return linux.EACCES
}

// CanActAsOwner reports whether creds may do what only the owner uid of
// an object may (chmod, utimes with explicit times, removing from a
// sticky directory): it is the owner, or it has CAP_FOWNER.
func CanActAsOwner(creds *Credentials, uid KUID) bool {
	return creds.FSKUID == uid || creds.HasCapability(linux.CAP_FOWNER)
}
