package linux

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// copyOutControl writes control messages a socket family produced
// (socket.RecvResult.Control, already in cmsg layout) to recvmsg's
// control buffer after the used bytes. As Linux's put_cmsg does, a
// message that does not fit is cut to the room left, with its
// cmsg_len saying so, and the rest are dropped; either sets MSG_CTRUNC.
// A message that faults is not written and takes no room, as the
// callers of put_cmsg ignore its EFAULT. It returns the control length
// used.
func copyOutControl(t *kernel.Task, h msghdr, used uint64, ctl []byte) (uint64, bool, error) {
	le := binary.LittleEndian
	for off := uint64(0); off+socket.SizeofCmsghdr <= uint64(len(ctl)); {
		l := le.Uint64(ctl[off:])
		if l < socket.SizeofCmsghdr || l > uint64(len(ctl))-off {
			break
		}
		var room uint64
		if h.control != 0 && h.controllen > used {
			room = h.controllen - used
		}
		if room < socket.SizeofCmsghdr {
			return used, true, nil
		}
		n := min(l, room)
		b := append([]byte(nil), ctl[off:off+n]...)
		le.PutUint64(b, n)
		if _, err := t.CopyOut(uintptr(h.control+used), b); err != nil {
			off += cmsgAlign(l)
			continue
		}
		used += min(cmsgAlign(n), room)
		if n < l {
			return used, true, nil
		}
		off += cmsgAlign(l)
	}
	return used, false, nil
}
