package tmpfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// O_TMPFILE files (vfs/tmpfile.go): regular files born without a link,
// whose data goes with the last close unless linkat gives them a name.

// CreateTmpfile implements vfs.TmpfileDirectory.
func (d *directory) CreateTmpfile(_ context.Context, creds *auth.Credentials, mode linux.FileMode, linkable bool) (vfs.Inode, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.nlink == 0 {
		return nil, linux.ENOENT
	}
	uid, gid, m := vfs.InitialOwner(creds, d.attrLocked(), mode)
	f := d.fs.newRegularFile(uid, gid, m.Permissions())
	f.nlink = 0
	f.tmpfileLinkable = linkable
	return f, nil
}

// TmpfileLinkable implements vfs.TmpfileInode.
func (f *regularFile) TmpfileLinkable() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.tmpfileLinkable
}

// takeTmpfileLinkLocked reports whether n, which has no links, may get
// one, and uses up that right: Linux lets an O_TMPFILE file be linked
// once. n's inode.mu is held.
func takeTmpfileLinkLocked(n node) bool {
	f, ok := n.(*regularFile)
	if !ok || !f.tmpfileLinkable {
		return false
	}
	f.tmpfileLinkable = false
	return true
}
