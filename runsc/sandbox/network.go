package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/runsc/boot"
)

// This file is the launcher's half of --network=sandbox: when the spec
// gives the container a network namespace of its own, the engine puts
// an interface with addresses and routes there (Docker's prestart hook
// moves a veth into a new one; CNI, podman and `ip netns` make one
// that the spec joins by path). The
// launcher reads that configuration, opens an AF_PACKET socket on the
// interface for the Sentry's packet stack, and takes the addresses
// away from the host kernel, which would otherwise answer ARP for them
// and reset every TCP connection the sandbox owns. The link stays up.
//
// A namespace with no configured interface (only lo) gives the sandbox
// loopback only; the caller's own (no namespace in the spec) is never
// taken over.
//
// Teardown: the engine deletes the interface with the namespace (Docker
// and CNI delete the veth), so nothing is given back on success. When
// the sandbox fails to start, restore puts the addresses and routes
// back as they were.

// takenLink is an interface the launcher took over.
type takenLink struct {
	netns string
	sock  *os.File
	link  boot.NetworkLink
	// ipv6Was is the interface's disable_ipv6 before the takeover
	// ("" if the kernel has no IPv6).
	ipv6Was string
}

// takeOverLink takes over the one configured interface of the network
// namespace at path. It returns nil when there is none.
func takeOverLink(path string) (*takenLink, error) {
	var t *takenLink
	err := inNetns(path, func() error {
		var err error
		t, err = takeOverHere()
		return err
	})
	if err != nil {
		return nil, err
	}
	if t != nil {
		t.netns = path
	}
	return t, nil
}

// inNetns runs fn on a thread that has joined the network namespace at
// path, and puts the thread back afterwards. A thread that cannot go
// back is never reused: it ends with its goroutine.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("network namespace: %w", err)
			return
		}
		defer self.Close()
		ns, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("network namespace: %w", err)
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("joining the network namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// takeOverHere does the takeover in the calling thread's namespace.
func takeOverHere() (*takenLink, error) {
	links, err := readLinks()
	if err != nil {
		return nil, err
	}
	var picked []*boot.NetworkLink
	for _, l := range links {
		if configured(l) {
			picked = append(picked, l)
		}
	}
	switch len(picked) {
	case 0:
		return nil, nil
	case 1:
	default:
		var names []string
		for _, l := range picked {
			names = append(names, l.Name)
		}
		return nil, fmt.Errorf("--network=sandbox drives one interface; the network namespace has %d configured (%s): use --network=host", len(picked), strings.Join(names, ", "))
	}
	l := picked[0]
	if l.MTU < 68 {
		return nil, fmt.Errorf("interface %s: MTU %d", l.Name, l.MTU)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", l.Name, err)
	}
	// Bound with its protocol only now: the socket receives nothing
	// from other interfaces meanwhile.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: int(l.Index)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding the packet socket to %s: %w", l.Name, err)
	}
	t := &takenLink{sock: os.NewFile(uintptr(fd), "packet:"+l.Name), link: *l}
	if err := t.strip(); err != nil {
		t.restoreHere()
		t.sock.Close()
		return nil, err
	}
	return t, nil
}

// configured reports whether the launcher takes l over: an Ethernet
// link that is up and has an address beyond IPv6 link-local.
func configured(l *boot.NetworkLink) bool {
	for _, a := range l.Addrs {
		if !a.Addr().IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// ipv6Sysctl is the interface's disable_ipv6 in the calling thread's
// network namespace (/proc/sys/net follows the opener's).
func ipv6Sysctl(name string) string {
	return filepath.Join("/proc/sys/net/ipv6/conf", name, "disable_ipv6")
}

// strip removes the interface's addresses: IPv6 by disabling it on the
// interface, which also stops link-local and autoconfigured addresses
// from coming back, and IPv4 one by one.
func (t *takenLink) strip() error {
	p := ipv6Sysctl(t.link.Name)
	if b, err := os.ReadFile(p); err == nil {
		t.ipv6Was = strings.TrimSpace(string(b))
		if err := os.WriteFile(p, []byte("1"), 0); err != nil {
			return fmt.Errorf("disabling IPv6 on %s: %w", t.link.Name, err)
		}
	}
	for _, a := range t.link.Addrs {
		if !a.Addr().Is4() {
			continue
		}
		if err := addrRequest(unix.RTM_DELADDR, 0, t.link.Index, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("removing %s from %s: %w", a, t.link.Name, err)
		}
	}
	return nil
}

// restore gives the interface its addresses and routes back, for a
// sandbox that failed to start.
func (t *takenLink) restore() error {
	return inNetns(t.netns, func() error { return t.restoreHere() })
}

func (t *takenLink) restoreHere() error {
	var errs []error
	if t.ipv6Was != "" {
		if err := os.WriteFile(ipv6Sysctl(t.link.Name), []byte(t.ipv6Was), 0); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range t.link.Addrs {
		if a.Addr().IsLinkLocalUnicast() {
			continue // the kernel makes it again
		}
		if err := addrRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, t.link.Index, a); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("restoring %s on %s: %w", a, t.link.Name, err))
		}
	}
	for _, r := range t.link.Routes {
		if !r.Gateway.IsValid() {
			continue // derived from an address
		}
		if err := routeRequest(t.link.Index, r); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("restoring the route to %s on %s: %w", r.Dst, t.link.Name, err))
		}
	}
	return errors.Join(errs...)
}

// readLinks reads the Ethernet links that are up, with their addresses
// and main-table routes.
func readLinks() ([]*boot.NetworkLink, error) {
	byIndex := map[int32]*boot.NetworkLink{}
	var order []*boot.NetworkLink
	msgs, err := dump(unix.RTM_GETLINK)
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		ifi := (*unix.IfInfomsg)(ptr(m.Data))
		if ifi.Type != unix.ARPHRD_ETHER || ifi.Flags&unix.IFF_LOOPBACK != 0 || ifi.Flags&unix.IFF_UP == 0 {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return nil, err
		}
		l := &boot.NetworkLink{Index: ifi.Index}
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFLA_IFNAME:
				l.Name = strings.TrimRight(string(a.Value), "\x00")
			case unix.IFLA_ADDRESS:
				l.MAC = net.HardwareAddr(a.Value).String()
			case unix.IFLA_MTU:
				if len(a.Value) >= 4 {
					l.MTU = binary.NativeEndian.Uint32(a.Value)
				}
			}
		}
		byIndex[l.Index] = l
		order = append(order, l)
	}
	if msgs, err = dump(unix.RTM_GETADDR); err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		ifa := (*unix.IfAddrmsg)(ptr(m.Data))
		l := byIndex[int32(ifa.Index)]
		if l == nil {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return nil, err
		}
		var addr, local netip.Addr
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFA_ADDRESS:
				addr, _ = netip.AddrFromSlice(a.Value)
			case unix.IFA_LOCAL:
				local, _ = netip.AddrFromSlice(a.Value)
			}
		}
		// For IPv4, IFA_LOCAL is the interface's own address (they
		// differ on point-to-point links).
		if local.IsValid() {
			addr = local
		}
		if addr.IsValid() {
			l.Addrs = append(l.Addrs, netip.PrefixFrom(addr, int(ifa.Prefixlen)))
		}
	}
	if msgs, err = dump(unix.RTM_GETROUTE); err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < unix.SizeofRtMsg {
			continue
		}
		rtm := (*unix.RtMsg)(ptr(m.Data))
		if rtm.Type != unix.RTN_UNICAST {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return nil, err
		}
		table := uint32(rtm.Table)
		var oif int32
		var r boot.NetworkRoute
		var dst netip.Addr
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.RTA_TABLE:
				table = binary.NativeEndian.Uint32(a.Value)
			case unix.RTA_OIF:
				oif = int32(binary.NativeEndian.Uint32(a.Value))
			case unix.RTA_DST:
				dst, _ = netip.AddrFromSlice(a.Value)
			case unix.RTA_GATEWAY:
				r.Gateway, _ = netip.AddrFromSlice(a.Value)
			case unix.RTA_PREFSRC:
				r.PrefSrc, _ = netip.AddrFromSlice(a.Value)
			case unix.RTA_PRIORITY:
				r.Metric = binary.NativeEndian.Uint32(a.Value)
			}
		}
		l := byIndex[oif]
		if table != unix.RT_TABLE_MAIN || l == nil {
			continue
		}
		if !dst.IsValid() {
			if rtm.Family == unix.AF_INET {
				dst = netip.IPv4Unspecified()
			} else {
				dst = netip.IPv6Unspecified()
			}
		}
		r.Dst = netip.PrefixFrom(dst, int(rtm.Dst_len))
		r.Protocol, r.Scope = rtm.Protocol, rtm.Scope
		l.Routes = append(l.Routes, r)
	}
	return order, nil
}

// dump runs one rtnetlink dump request for all families.
func dump(typ int) ([]syscall.NetlinkMessage, error) {
	rib, err := syscall.NetlinkRIB(typ, unix.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	return syscall.ParseNetlinkMessage(rib)
}

// addrRequest sends RTM_NEWADDR or RTM_DELADDR for a on interface idx.
func addrRequest(typ uint16, flags uint16, idx int32, a netip.Prefix) error {
	fam := unix.AF_INET6
	if a.Addr().Is4() {
		fam = unix.AF_INET
	}
	body := make([]byte, unix.SizeofIfAddrmsg)
	body[0], body[1] = byte(fam), byte(a.Bits())
	binary.NativeEndian.PutUint32(body[4:], uint32(idx))
	body = rtattr(body, unix.IFA_LOCAL, a.Addr().AsSlice())
	body = rtattr(body, unix.IFA_ADDRESS, a.Addr().AsSlice())
	return request(typ, flags, body)
}

// routeRequest adds r through interface idx.
func routeRequest(idx int32, r boot.NetworkRoute) error {
	fam := unix.AF_INET6
	if r.Dst.Addr().Is4() {
		fam = unix.AF_INET
	}
	body := make([]byte, unix.SizeofRtMsg)
	body[0], body[1] = byte(fam), byte(r.Dst.Bits())
	body[4], body[5], body[6], body[7] = unix.RT_TABLE_MAIN, r.Protocol, r.Scope, unix.RTN_UNICAST
	if r.Dst.Bits() > 0 {
		body = rtattr(body, unix.RTA_DST, r.Dst.Addr().AsSlice())
	}
	body = rtattr(body, unix.RTA_GATEWAY, r.Gateway.AsSlice())
	var oif [4]byte
	binary.NativeEndian.PutUint32(oif[:], uint32(idx))
	body = rtattr(body, unix.RTA_OIF, oif[:])
	if r.Metric != 0 {
		var m [4]byte
		binary.NativeEndian.PutUint32(m[:], r.Metric)
		body = rtattr(body, unix.RTA_PRIORITY, m[:])
	}
	return request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// rtattr appends one attribute, padded to 4 bytes.
func rtattr(b []byte, typ uint16, v []byte) []byte {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(4+len(v)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b = append(b, h[:]...)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// request sends one rtnetlink request and waits for its acknowledgment.
func request(typ, flags uint16, body []byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	binary.NativeEndian.PutUint32(msg[8:], 1)
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			}
		}
	}
}

// AttachNetwork gives the sandbox process pid the interface of its
// network namespace when the network mode and the spec call for it (see
// above), over the control socket ctlSock. It runs at the end of
// create, after the prestart hooks: Docker's hook is what moves the
// veth into a namespace the spec asked to be new.
func AttachNetwork(network string, spec *specs.Spec, pid int, ctlSock string) error {
	if newNS, path := networkNamespace(spec); network != "sandbox" || (!newNS && path == "") || (path != "" && isCallerNetns(path)) {
		return nil
	}
	t, err := takeOverLink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil || t == nil {
		return err
	}
	defer t.sock.Close()
	_, err = Call(ctlSock, boot.ControlRequest{Cmd: boot.CtlAttachNetwork, Link: &t.link}, CallTimeout, t.sock)
	if err != nil {
		if rerr := t.restore(); rerr != nil {
			err = fmt.Errorf("%w (and restoring %s: %v)", err, t.link.Name, rerr)
		}
		return fmt.Errorf("network: %w", err)
	}
	return nil
}

// callerNetns is the network namespace runsc was started in, read
// before any thread joins another: afterwards /proc/self names the main
// thread's, which startInNetns may have moved.
var callerNetns = func() unix.Stat_t {
	var st unix.Stat_t
	unix.Stat("/proc/self/ns/net", &st)
	return st
}()

// isCallerNetns reports whether the namespace file path is the caller's
// own network namespace: Docker's --network=host joins the host's by
// path, and its interfaces are never the sandbox's to take.
func isCallerNetns(path string) bool {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || callerNetns.Ino == 0 {
		return false
	}
	return st.Dev == callerNetns.Dev && st.Ino == callerNetns.Ino
}

// ptr is the start of a netlink message's payload.
func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
