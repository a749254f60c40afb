package proc

import (
	"bytes"
	"context"
	"fmt"
)

// pingGroupRanger is a network stack with ping sockets, whose
// net.ipv4.ping_group_range says who may make them.
type pingGroupRanger interface {
	PingGroupRange() (low, high uint32)
}

// addNetSysctls adds /proc/sys/net/ipv4/ping_group_range, agreeing with
// what socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) allows. A stack
// without ping sockets shows Linux's default, "1 0" (nobody).
func (fs *filesystem) addNetSysctls(sys *staticContents, sysIno uint64) {
	netC := newStaticContents()
	netIno := fs.staticIno()
	sys.add("net", fs.newDir(netIno, sysIno, 0555, nil, netC))
	ipv4 := newStaticContents()
	netC.add("ipv4", fs.newDir(fs.staticIno(), netIno, 0555, nil, ipv4))
	ipv4.add("ping_group_range", fs.newFile(fs.staticIno(), 0444, nil, generatorFunc(func(_ context.Context, b *bytes.Buffer) error {
		low, high := uint32(1), uint32(0)
		if r, ok := fs.k.Sockets.NetStack().(pingGroupRanger); ok {
			low, high = r.PingGroupRange()
		}
		fmt.Fprintf(b, "%d\t%d\n", low, high)
		return nil
	})))
}
