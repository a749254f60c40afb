package overlay

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// O_TMPFILE through the overlay (vfs/tmpfile.go): the directory is copied
// up and the unnamed file made in the upper layer, where a later linkat
// gives it a name, as Linux's overlayfs does since 6.6. An upper layer
// without O_TMPFILE support makes it EOPNOTSUPP.

// CreateTmpfile implements vfs.TmpfileDirectory.
func (d *directory) CreateTmpfile(ctx context.Context, creds *auth.Credentials, mode linux.FileMode, linkable bool) (vfs.Inode, error) {
	if err := d.copyUp(ctx, -1); err != nil {
		return nil, err
	}
	d.dirMu.RLock()
	defer d.dirMu.RUnlock()
	up, ok := d.upperDir().(vfs.TmpfileDirectory)
	if !ok {
		return nil, linux.EOPNOTSUPP
	}
	u, err := up.CreateTmpfile(ctx, creds, mode, linkable)
	if err != nil {
		return nil, err
	}
	return d.fs.newNode(ctx, d, "", u, nil)
}

// TmpfileLinkable implements vfs.TmpfileInode.
func (f *regularFile) TmpfileLinkable() bool {
	t, ok := f.getUpper().(vfs.TmpfileInode)
	return ok && t.TmpfileLinkable()
}
