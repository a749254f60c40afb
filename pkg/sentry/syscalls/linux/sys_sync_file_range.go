package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// sync_file_range(2) flags.
const (
	syncFileRangeWaitBefore = 1
	syncFileRangeWrite      = 2
	syncFileRangeWaitAfter  = 4
)

// checkSyncFileRange makes sync_file_range's argument checks, in Linux's
// order once the file is known: flags, then the range (negative, or
// ending past the largest offset), then ESPIPE for a file whose type has
// no page cache range to sync (pipes, sockets, character devices).
func checkSyncFileRange(offset, nbytes int64, flags uint32, mode abilinux.FileMode) error {
	if flags&^(syncFileRangeWaitBefore|syncFileRangeWrite|syncFileRangeWaitAfter) != 0 {
		return abilinux.EINVAL
	}
	end := int64(uint64(offset) + uint64(nbytes))
	if offset < 0 || end < 0 || end < offset {
		return abilinux.EINVAL
	}
	switch mode {
	case abilinux.S_IFREG, abilinux.S_IFBLK, abilinux.S_IFDIR, abilinux.S_IFLNK:
		return nil
	}
	return abilinux.ESPIPE
}

// SyncFileRange implements sync_file_range(2). The Sentry does not track
// which ranges of a file are dirty, so starting write-out
// (SYNC_FILE_RANGE_WRITE) or waiting for it (SYNC_FILE_RANGE_WAIT_AFTER)
// flushes the whole file's data, as fdatasync(2) does: more than asked,
// never less. SYNC_FILE_RANGE_WAIT_BEFORE alone has no write-out in
// progress to wait for.
func SyncFileRange(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	flags := args[3].Uint()
	mode := f.Inode().Type()
	if err := checkSyncFileRange(args[1].Int64(), args[2].Int64(), flags, mode); err != nil {
		return 0, err
	}
	if flags&(syncFileRangeWrite|syncFileRangeWaitAfter) == 0 || mode != abilinux.S_IFREG {
		return 0, nil
	}
	return 0, f.Sync(t.Context())
}
