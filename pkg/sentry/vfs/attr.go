package vfs

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// FileAttr is the part of an inode's attributes that the generic
// permission rules read.
type FileAttr struct {
	Mode linux.FileMode
	UID  auth.KUID
	GID  auth.KGID
}

// PrepareSetStat applies Linux's rules for changing attributes to opts,
// given the inode's current attributes cur. It fails with EPERM when
// creds may not make a change, and edits opts so that the implementation
// applies exactly what Linux would:
//
//   - chmod needs ownership or CAP_FOWNER; the set-group-ID bit is
//     dropped when the caller is not in the file's group and lacks
//     CAP_FSETID.
//   - chown to another user needs CAP_CHOWN; the owner may change the
//     group to one it is in (or "change" either to its current value). Changing the owner or group of a
//     non-directory clears set-user-ID, and set-group-ID if group-execute
//     is set (so that it is not a mandatory-locking marker).
//   - Setting both times to "now" needs ownership or write permission;
//     any other time change needs ownership (CAP_FOWNER counts).
//
// Size changes are checked by the caller (write permission or a writable
// file), since they depend on how the file was reached.
func PrepareSetStat(creds *auth.Credentials, opts *SetStatOptions, cur FileAttr) error {
	if opts.Mask&linux.STATX_UID != 0 && !creds.HasCapability(linux.CAP_CHOWN) &&
		(creds.FSKUID != cur.UID || opts.UID != cur.UID) {
		return linux.EPERM
	}
	if opts.Mask&linux.STATX_GID != 0 && !creds.HasCapability(linux.CAP_CHOWN) &&
		(creds.FSKUID != cur.UID || (opts.GID != cur.GID && !creds.InGroup(opts.GID))) {
		return linux.EPERM
	}
	if opts.Mask&linux.STATX_MODE != 0 {
		if !auth.CanActAsOwner(creds, cur.UID) {
			return linux.EPERM
		}
		gid := cur.GID
		if opts.Mask&linux.STATX_GID != 0 {
			gid = opts.GID
		}
		if opts.Mode&linux.S_ISGID != 0 && !creds.InGroup(gid) && !creds.HasCapability(linux.CAP_FSETID) {
			opts.Mode &^= linux.S_ISGID
		}
	}
	if opts.Mask&(linux.STATX_UID|linux.STATX_GID) != 0 && !cur.Mode.IsDir() {
		mode := uint16(cur.Mode.Permissions())
		if opts.Mask&linux.STATX_MODE != 0 {
			mode = opts.Mode
		}
		kill := uint16(linux.S_ISUID)
		if mode&linux.S_IXGRP != 0 {
			kill |= linux.S_ISGID
		}
		if mode&kill != 0 {
			opts.Mask |= linux.STATX_MODE
			opts.Mode = mode &^ kill
		}
	}
	if opts.Mask&(linux.STATX_ATIME|linux.STATX_MTIME) != 0 {
		bothNow := opts.Mask&(linux.STATX_ATIME|linux.STATX_MTIME) == linux.STATX_ATIME|linux.STATX_MTIME &&
			opts.Atime.Nsec == linux.UTIME_NOW && opts.Mtime.Nsec == linux.UTIME_NOW
		if !auth.CanActAsOwner(creds, cur.UID) {
			if !bothNow {
				return linux.EPERM
			}
			if err := auth.CheckPermission(creds, cur.Mode, cur.UID, cur.GID, auth.MayWrite); err != nil {
				return err
			}
		}
	}
	return nil
}

// InitialOwner returns the owner and mode of a file that creds create in
// a directory with attributes parent: the creator's filesystem IDs, but
// the directory's group if the directory is set-group-ID, in which case a
// new subdirectory inherits the bit. A new group-executable
// non-directory given the directory's group keeps a set-group-ID bit only
// if the creator is in that group or has CAP_FSETID.
func InitialOwner(creds *auth.Credentials, parent FileAttr, mode linux.FileMode) (auth.KUID, auth.KGID, linux.FileMode) {
	uid, gid := creds.FSKUID, creds.FSKGID
	if parent.Mode&linux.S_ISGID != 0 {
		gid = parent.GID
		if mode.IsDir() {
			mode |= linux.S_ISGID
		} else if mode&linux.S_ISGID != 0 && mode&linux.S_IXGRP != 0 &&
			!creds.InGroup(gid) && !creds.HasCapability(linux.CAP_FSETID) {
			mode &^= linux.S_ISGID
		}
	}
	return uid, gid, mode
}
