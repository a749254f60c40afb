package host

import (
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A terminal's stdin, stdout and stderr are usually three descriptors of
// one host open file, so changing the status flags through one changes
// them for all. sharedHostFile makes the descriptors of one host open file
// agree on what its flags were before the Sentry touched them: each
// wrapped descriptor derives the sandbox's flags from those (not from the
// O_NONBLOCK set for an earlier one), and they are put back only when the
// last descriptor is released, so that the others never see a blocking
// host file.
//
// Descriptors of one open file are found with kcmp(KCMP_FILE) among those
// of the same device and inode. Where kcmp is unavailable (a kernel
// without CONFIG_CHECKPOINT_RESTORE) each descriptor counts as its own
// open file, which is right for separate opens and loses only the above
// for dups.
type sharedHostFile struct {
	key hostFileKey
	// members are the live wrapped descriptors of the open file,
	// guarded by hostFilesMu.
	members []int32
	// origFlags are the host status flags when the first descriptor
	// was wrapped.
	origFlags int
	// changed is set once some descriptor's flags were changed.
	changed atomic.Bool
}

type hostFileKey struct{ dev, ino uint64 }

var (
	// hostFilesMu guards hostFiles and every entry's members, and is
	// held across the F_GETFL that records origFlags and the final
	// restore, so that wrapping and releasing descriptors of one open
	// file cannot interleave.
	hostFilesMu sync.Mutex
	hostFiles   = map[hostFileKey][]*sharedHostFile{}
)

// kcmpFile is KCMP_FILE from linux/kcmp.h, which x/sys/unix lacks.
const kcmpFile = 0

// sameOpenFile reports whether a and b are descriptors of one open file.
func sameOpenFile(a, b int32) bool {
	pid := unix.Getpid()
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(pid), kcmpFile, uintptr(a), uintptr(b), 0)
	return e == 0 && r == 0
}

// acquireHostFile registers hostFD as a user of its host open file and
// returns the file's entry and hostFD's current flags.
func acquireHostFile(hostFD int, st *unix.Stat_t) (*sharedHostFile, int, error) {
	hostFilesMu.Lock()
	defer hostFilesMu.Unlock()
	cur, err := unix.FcntlInt(uintptr(hostFD), unix.F_GETFL, 0)
	if err != nil {
		return nil, 0, hostErr(err)
	}
	key := hostFileKey{uint64(st.Dev), uint64(st.Ino)}
	for _, sh := range hostFiles[key] {
		if sameOpenFile(int32(hostFD), sh.members[0]) {
			sh.members = append(sh.members, int32(hostFD))
			return sh, cur, nil
		}
	}
	sh := &sharedHostFile{key: key, members: []int32{int32(hostFD)}, origFlags: cur}
	hostFiles[key] = append(hostFiles[key], sh)
	return sh, cur, nil
}

// releaseHostFile drops i's use of its host open file, restoring the
// host flags if it was the last one and they were changed.
func (i *inode) releaseHostFile() {
	sh := i.shared
	hostFilesMu.Lock()
	defer hostFilesMu.Unlock()
	sh.members = slices.DeleteFunc(sh.members, func(fd int32) bool { return fd == i.hostFD })
	if len(sh.members) > 0 {
		return
	}
	list := slices.DeleteFunc(hostFiles[sh.key], func(e *sharedHostFile) bool { return e == sh })
	if len(list) == 0 {
		delete(hostFiles, sh.key)
	} else {
		hostFiles[sh.key] = list
	}
	if sh.changed.Load() {
		// Best effort: the descriptor is going away, and a failure
		// only leaves the host file non-blocking.
		_, _ = unix.FcntlInt(uintptr(i.hostFD), unix.F_SETFL, sh.origFlags)
	}
}
