package overlay_test

import (
	"context"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// An unlimited upper layer (no blocks) shows the lower layer's size, as
// df would show the disk under a container's root.
func TestStatFSShowsLowerSize(t *testing.T) {
	v := vfs.New()
	if err := v.RegisterFilesystemType(tmpfs.FilesystemType{}, nil); err != nil {
		t.Fatal(err)
	}
	creds := rootCreds()
	ctx := auth.ContextWithCredentials(context.Background(), creds)
	ns, err := v.NewMountNamespace(ctx, creds, "", tmpfs.Name, &vfs.MountOptions{
		GetFilesystemOptions: vfs.GetFilesystemOptions{Data: "mode=0755,size=1m"},
		InternalMount:        true,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newOverlayEnv(t, &tree{t: t, ctx: ctx, vfs: v, creds: creds, root: ns.Root()})
	st, err := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Type != linux.OVERLAYFS_SUPER_MAGIC || st.Blocks != (1<<20)/linux.PageSize || st.BlocksFree != st.Blocks {
		t.Errorf("statfs = %+v, want the lower tmpfs's %d blocks under the overlay magic", st, (1<<20)/linux.PageSize)
	}
}
