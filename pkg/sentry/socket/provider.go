package socket

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Provider creates the sockets of one address family. Which providers a
// sandbox has depends on its network mode (none, host, sandbox), so the
// boot code registers them in the kernel's Families before the first
// task runs.
type Provider interface {
	// Socket creates a socket of type stype (SOCK_STREAM, SOCK_DGRAM,
	// ... with the SOCK_NONBLOCK/SOCK_CLOEXEC flags removed) and
	// protocol, as socket(2) does. Errors are errno values:
	// ESOCKTNOSUPPORT, EPROTONOSUPPORT, EACCES (raw sockets without
	// CAP_NET_RAW), ...
	Socket(ctx context.Context, vfsObj *vfs.VirtualFilesystem, stype, protocol int, nonblock bool) (*vfs.FileDescription, error)
	// Pair creates two connected sockets for socketpair(2);
	// EOPNOTSUPP for families without it.
	Pair(ctx context.Context, vfsObj *vfs.VirtualFilesystem, stype, protocol int, nonblock bool) (a, b *vfs.FileDescription, err error)
}

// Families maps address families to their providers.
type Families struct {
	// mu guards byFamily and net; providers are registered at boot and read on
	// every socket(2).
	mu       sync.RWMutex
	byFamily map[int]Provider
	// net is the network stack behind the inet families (netinfo.go).
	net NetStack
}

// Register makes p create the sockets of family, replacing any earlier
// provider.
func (f *Families) Register(family int, p Provider) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byFamily == nil {
		f.byFamily = make(map[int]Provider)
	}
	f.byFamily[family] = p
}

// Lookup returns family's provider, or EAFNOSUPPORT.
func (f *Families) Lookup(family int) (Provider, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if p, ok := f.byFamily[family]; ok {
		return p, nil
	}
	return nil, linux.EAFNOSUPPORT
}
