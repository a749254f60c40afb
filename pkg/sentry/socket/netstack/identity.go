package netstack

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// identity is what a socket file shows of its socket: the sockfs inode
// number and the creator's uid, which /proc/net/* and sock_diag report
// too, so that ss -p and lsof can match sockets to descriptors.
type identity struct {
	// Both are set by newFD before the file is published.
	ino uint64
	uid auth.KUID
}

func (id *identity) setIdentity(ino uint64, uid auth.KUID) { id.ino, id.uid = ino, uid }

// newFD wraps impl, a socket endpoint, in a file of its own sockfs
// inode, owned by the caller.
func newFD(ctx context.Context, vfsObj *vfs.VirtualFilesystem, impl vfs.FileDescriptionImpl, nonblock bool) *vfs.FileDescription {
	flags := uint32(linux.O_RDWR)
	if nonblock {
		flags |= linux.O_NONBLOCK
	}
	ino := vfs.NextSocketIno()
	creds := auth.CredentialsFromContext(ctx)
	if s, ok := impl.(interface{ setIdentity(uint64, auth.KUID) }); ok {
		s.setIdentity(ino, creds.EffectiveKUID)
	}
	fd := &vfs.FileDescription{}
	fd.Init(impl, flags, vfsObj.NewSocketVirtualDentry(ino, creds), &vfs.FileDescriptionOptions{Stream: true})
	if s, ok := impl.(interface{ setFile(*vfs.FileDescription) }); ok {
		// TCP sockets signal their file's owner (SIGURG).
		s.setFile(fd)
	}
	return fd
}
