package netstack

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/waiter"
)

// What UDP and ICMP sockets share: Linux's datagram_poll and the
// shutdown of a datagram socket.

// datagramReadiness is a datagram socket's poll answer (datagram_poll):
// always writable; readable with queued data or once shut for reading,
// which also raises RDHUP (and HUP when shut both ways); an error when
// one is pending.
func datagramReadiness(mask waiter.EventMask, rdShut, wrShut, queued, errPending bool) waiter.EventMask {
	r := waiter.WritableEvents
	if rdShut {
		r |= waiter.ReadableEvents | waiter.EventRdHUp
		if wrShut {
			r |= waiter.EventHUp
		}
	}
	if queued {
		r |= waiter.ReadableEvents
	}
	if errPending {
		r |= waiter.EventErr
	}
	return r & (mask | waiter.EventErr | waiter.EventHUp)
}

// shutdownDatagram applies shutdown(how) to a datagram socket's flags
// (its lock held): an unconnected socket fails with ENOTCONN but, as on
// Linux, is shut down all the same. The caller notifies its waiters
// unless how was invalid (EINVAL).
func shutdownDatagram(how int, rdShut, wrShut *bool, connected bool) error {
	if how < socket.SHUT_RD || how > socket.SHUT_RDWR {
		return linux.EINVAL
	}
	if how != socket.SHUT_WR {
		*rdShut = true
	}
	if how != socket.SHUT_RD {
		*wrShut = true
	}
	if !connected {
		return linux.ENOTCONN
	}
	return nil
}
