package boot

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/sentry/socket/extnet"
	"appkernel.dev/appkernel/pkg/sentry/socket/netstack"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/stack"
)

// startPacketStack runs the packet stack over link for s: from now on
// s's sockets reach destinations outside the sandbox through it, and
// connections and datagrams arriving on the link reach s's sockets.
func startPacketStack(link tcpip.LinkEndpoint, s *netstack.Stack, addrs []netip.Prefix, routes []stack.Route) error {
	// The on-link routes are the addresses' own prefixes; the stack
	// adds those itself.
	var extra []stack.Route
	for _, r := range routes {
		if r.Gateway.IsValid() {
			extra = append(extra, r)
		}
	}
	_, err := extnet.New(link, s, extnet.Config{Addrs: addrs, Routes: extra})
	return err
}
