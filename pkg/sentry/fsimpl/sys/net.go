package sys

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/attrtree"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// The interface flags and hardware type (linux/if.h, linux/if_arp.h)
// that this package interprets or sets.
const (
	iffUp          = 0x1
	iffLoopback    = 0x8
	arphrdLoopback = 772
)

// NetInterface is what /sys/class/net/NAME shows of one interface.
type NetInterface struct {
	Name  string
	Index int32
	// Flags are the IFF_* flags as Linux's flags file shows them
	// (without the computed IFF_RUNNING and IFF_LOWER_UP).
	Flags uint32
	MTU   uint32
	// Type is the ARPHRD_* hardware type.
	Type uint16
	// HardwareAddr and Broadcast are the link-layer addresses; their
	// length is addr_len.
	HardwareAddr, Broadcast []byte
	TxQueueLen              uint32
}

// Loopback is the loopback interface as Linux creates it in every
// network namespace.
func Loopback() NetInterface {
	return NetInterface{
		Name: "lo", Index: 1, Flags: iffUp | iffLoopback, MTU: 65536, Type: arphrdLoopback,
		HardwareAddr: make([]byte, 6), Broadcast: make([]byte, 6), TxQueueLen: 1000,
	}
}

func (fs *filesystem) interfaces() []NetInterface {
	if fs.ft.NetInterfaces == nil {
		return []NetInterface{Loopback()}
	}
	return fs.ft.NetInterfaces()
}

// iface returns the current state of the interface called name with
// index idx, or false once it is gone (or renamed, or recreated).
func (fs *filesystem) iface(name string, idx int32) (NetInterface, bool) {
	for _, ni := range fs.interfaces() {
		if ni.Name == name && ni.Index == idx {
			return ni, true
		}
	}
	return NetInterface{}, false
}

// netDevice is an interface's directory in /sys/devices/virtual/net and
// its link in /sys/class/net, kept while an interface of that name and
// index exists so that both keep their inode numbers.
type netDevice struct {
	index int32
	dir   *attrtree.Dir
	link  *attrtree.Symlink
}

// devices returns the netDevice of each current interface, in the
// order the network stack lists them. parent is /sys/devices/virtual/net.
func (fs *filesystem) devices(parent *attrtree.Dir) ([]NetInterface, []*netDevice) {
	ifs := fs.interfaces()
	fs.netMu.Lock()
	defer fs.netMu.Unlock()
	live := make(map[string]*netDevice, len(ifs))
	devs := make([]*netDevice, len(ifs))
	for i, ni := range ifs {
		d, ok := fs.netDevs[ni.Name]
		if !ok || d.index != ni.Index {
			d = fs.newNetDevice(parent, ni)
		}
		live[ni.Name], devs[i] = d, d
	}
	fs.netDevs = live
	return ifs, devs
}

func (fs *filesystem) newNetDevice(parent *attrtree.Dir, ni NetInterface) *netDevice {
	name, idx := ni.Name, ni.Index
	s := fs.tree.NewStaticDir(parent)
	attr := func(file string, f func(ni NetInterface) (string, error)) {
		s.Add(file, fs.tree.NewFile(func(context.Context) (string, error) {
			cur, ok := fs.iface(name, idx)
			if !ok {
				return "", linux.ENODEV
			}
			v, err := f(cur)
			return v + "\n", err
		}))
	}
	attr("addr_len", func(ni NetInterface) (string, error) { return strconv.Itoa(len(ni.HardwareAddr)), nil })
	attr("address", func(ni NetInterface) (string, error) { return macString(ni.HardwareAddr), nil })
	attr("broadcast", func(ni NetInterface) (string, error) { return macString(ni.Broadcast), nil })
	attr("carrier", func(ni NetInterface) (string, error) {
		// Linux has no carrier state for an interface that is down.
		if ni.Flags&iffUp == 0 {
			return "", linux.EINVAL
		}
		return "1", nil
	})
	attr("flags", func(ni NetInterface) (string, error) { return fmt.Sprintf("%#x", ni.Flags), nil })
	attr("ifindex", func(ni NetInterface) (string, error) { return strconv.Itoa(int(ni.Index)), nil })
	attr("iflink", func(ni NetInterface) (string, error) { return strconv.Itoa(int(ni.Index)), nil })
	attr("mtu", func(ni NetInterface) (string, error) { return strconv.Itoa(int(ni.MTU)), nil })
	attr("operstate", func(ni NetInterface) (string, error) { return operState(ni), nil })
	attr("tx_queue_len", func(ni NetInterface) (string, error) { return strconv.Itoa(int(ni.TxQueueLen)), nil })
	attr("type", func(ni NetInterface) (string, error) { return strconv.Itoa(int(ni.Type)), nil })
	return &netDevice{index: idx, dir: s.Dir(), link: fs.tree.NewSymlink("../../devices/virtual/net/" + name)}
}

// operState is RFC 2863's state as Linux reports it: "unknown" for
// interfaces without one (loopback), else up or down.
func operState(ni NetInterface) string {
	switch {
	case ni.Flags&iffLoopback != 0:
		return "unknown"
	case ni.Flags&iffUp != 0:
		return "up"
	}
	return "down"
}

func macString(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}

// virtualNet is /sys/devices/virtual/net: a directory per interface.
type virtualNet struct {
	fs *filesystem
	// self is the directory, the parent of the interfaces' ones; set
	// once when the tree is built.
	self *attrtree.Dir
}

// List implements attrtree.Contents.
func (v *virtualNet) List(context.Context) []attrtree.Child {
	ifs, devs := v.fs.devices(v.self)
	out := make([]attrtree.Child, len(ifs))
	for i := range ifs {
		out[i] = attrtree.Child{Name: ifs[i].Name, Inode: devs[i].dir}
	}
	return out
}

// Lookup implements attrtree.Contents.
func (v *virtualNet) Lookup(ctx context.Context, name string) (vfs.Inode, error) {
	for _, c := range v.List(ctx) {
		if c.Name == name {
			return c.Inode, nil
		}
	}
	return nil, linux.ENOENT
}

// classNet is /sys/class/net: a link per interface to its directory.
type classNet struct {
	fs      *filesystem
	virtual *virtualNet
}

// List implements attrtree.Contents.
func (c *classNet) List(context.Context) []attrtree.Child {
	ifs, devs := c.fs.devices(c.virtual.self)
	out := make([]attrtree.Child, len(ifs))
	for i := range ifs {
		out[i] = attrtree.Child{Name: ifs[i].Name, Inode: devs[i].link}
	}
	return out
}

// Lookup implements attrtree.Contents.
func (c *classNet) Lookup(ctx context.Context, name string) (vfs.Inode, error) {
	for _, e := range c.List(ctx) {
		if e.Name == name {
			return e.Inode, nil
		}
	}
	return nil, linux.ENOENT
}
