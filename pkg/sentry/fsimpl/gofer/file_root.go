package gofer

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// File-rooted instances.
//
// A file bind mount (/etc/hosts, /etc/resolv.conf, a Kubernetes secret)
// is an export whose root is the file itself. Unlike a container's
// rootfs, such a file has another writer: the engine rewrites it in
// place on the host while the container runs (Docker updates /etc/hosts
// when containers join a network). So the one-writer cache policy of the
// package doc does not hold for it, and its root revalidates instead:
// every stat fetches the attributes again, and every open compares the
// host's size and times with those the cached pages were filled under,
// dropping the pages if the file changed. Data reads always go to the
// host, so an open after a change sees the new contents. A mapping made
// before the change keeps the pages it already faulted (and no longer
// sees this sandbox's later writes to them).

// fileRootState is what a file-rooted instance remembers of its root.
type fileRootState struct {
	// seen is the version of the host file the page cache holds pages
	// of. Guarded by the root regularFile's dataMu.
	seen fileVersion
}

// fileVersion is what tells that a file changed under the cache.
type fileVersion struct {
	size         uint64
	mtime, ctime lisafs.Timestamp
}

func versionOf(s *lisafs.Stat) fileVersion {
	return fileVersion{size: s.Size, mtime: s.Mtime, ctime: s.Ctime}
}

// isFileRoot reports whether i is the root of a file-rooted instance.
func (i *inode) isFileRoot() bool {
	return i.typ != linux.S_IFDIR && i.fs.root != nil && i.fs.root.base() == i
}

// revalidateFileRoot brings f, the root of a file export, up to date
// with the host file after an open: h is the handle just acquired, so
// the check is a host statx with no gofer round trip.
func (f *regularFile) revalidateFileRoot(h *hostHandle) error {
	var x unix.Statx_t
	if err := unix.Statx(h.host, "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x); err != nil {
		return hostErr(err)
	}
	s := statFromHost(&x)
	f.dataMu.Lock()
	defer f.dataMu.Unlock()
	v := versionOf(&s)
	f.mu.Lock()
	// The size is kept exact by this sandbox's writes; take the host's,
	// which another writer may have changed.
	f.attr = s
	f.mu.Unlock()
	if v == f.fs.fileRoot.seen {
		return nil
	}
	f.fs.fileRoot.seen = v
	f.dropCache()
	return nil
}

// dropCache forgets every cached page after the host file changed under
// it, so that later faults read the new contents. Mappings keep the
// pages they already hold: invalidating them would also throw away
// their private copy-on-write pages, which are the application's data.
// f.dataMu is held.
func (f *regularFile) dropCache() {
	if f.cache != nil {
		f.cache.dropAll()
	}
}
