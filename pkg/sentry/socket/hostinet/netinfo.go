package hostinet

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"unsafe"

	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// NetStack describes the host network namespace the sandbox shares in
// --network=host, through the interface ioctls of a short-lived host
// socket (the Sentry cannot read the host's /proc/net). It lists the
// interfaces that have an IPv4 address, which is what SIOCGIFCONF
// reports, and none of the host's sockets.
type NetStack struct{}

var _ socket.NetStack = NetStack{}

// withHostSocket runs f on a fresh host UDP socket.
func withHostSocket(f func(s *Socket) error) error {
	fd, err := hostSocket(socket.AF_INET, socket.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer hostClose(fd)
	return f(&Socket{fd: fd})
}

// InterfaceIoctl implements socket.NetStack.
func (NetStack) InterfaceIoctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	var r uint64
	err := withHostSocket(func(s *Socket) error {
		var err error
		r, err = s.Ioctl(ctx, m, cmd, arg)
		return err
	})
	return r, err
}

// NetInterfaces implements socket.NetStack.
func (NetStack) NetInterfaces() []socket.NetInterface {
	var out []socket.NetInterface
	withHostSocket(func(s *Socket) error {
		buf := make([]byte, maxIfconf)
		hc := struct {
			len int32
			_   int32
			buf uintptr
		}{len: int32(len(buf)), buf: uintptr(unsafe.Pointer(&buf[0]))}
		err := hostIoctl(s.fd, siocGIfConf, unsafe.Pointer(&hc))
		runtimeKeepAlive(buf)
		if err != nil {
			return err
		}
		le := binary.LittleEndian
		byName := map[string]int{}
		for off := 0; off+sizeIfreq <= int(hc.len); off += sizeIfreq {
			req := buf[off : off+sizeIfreq]
			name := string(req[:bytes.IndexByte(append(req[:16:16], 0), 0)])
			addr := netip.AddrFrom4([4]byte(req[20:24]))
			i, ok := byName[name]
			if !ok {
				ni := socket.NetInterface{Name: name}
				var q [sizeIfreq]byte
				copy(q[:15], name)
				if hostIoctl(s.fd, siocGIfIndex, unsafe.Pointer(&q[0])) == nil {
					ni.Index = int32(le.Uint32(q[16:]))
				}
				if hostIoctl(s.fd, siocGIfFlags, unsafe.Pointer(&q[0])) == nil {
					ni.Flags = uint32(le.Uint16(q[16:]))
				}
				i = len(out)
				byName[name] = i
				out = append(out, ni)
			}
			bits := 32
			var q [sizeIfreq]byte
			copy(q[:15], name)
			if hostIoctl(s.fd, siocGIfNetmsk, unsafe.Pointer(&q[0])) == nil {
				bits = 0
				for _, c := range q[20:24] {
					for ; c&0x80 != 0; c <<= 1 {
						bits++
					}
				}
			}
			out[i].Addrs = append(out[i].Addrs, socket.NetAddr{Prefix: netip.PrefixFrom(addr, bits)})
		}
		return nil
	})
	// Linux lists interfaces by index; SIOCGIFCONF need not.
	slices.SortFunc(out, func(a, b socket.NetInterface) int { return int(a.Index) - int(b.Index) })
	return out
}

// InetSockets implements socket.NetStack: the host's sockets are not
// visible to the Sentry.
func (NetStack) InetSockets(string, int) ([]socket.InetSocketInfo, bool) { return nil, false }

// NetRoutes implements socket.NetStack: the host's routing table would
// need an RTM_GETROUTE dump, which is not done here.
func (NetStack) NetRoutes() []socket.NetRoute { return nil }
