package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Control message ABI (cmsg(3)) on 64-bit architectures.
const (
	scmRights = 1
	// scmMaxFD is SCM_MAX_FD, the most descriptors one sendmsg passes.
	scmMaxFD = 253
	// maxControlLen stands in for net.core.optmem_max: a longer control
	// buffer is ENOBUFS.
	maxControlLen = 20480
)

func cmsgAlign(n uint64) uint64 { return (n + 7) &^ 7 }

func dropFiles(t *kernel.Task, files []*vfs.FileDescription) {
	for _, f := range files {
		f.DecRef(t.Context())
	}
}

// copyInControl decodes sendmsg's control messages: the files of its
// SCM_RIGHTS messages, with references, and the messages at other levels
// than SOL_SOCKET, which the socket's family interprets. SCM_CREDENTIALS
// is checked as Linux checks it; the socket then attaches the sender's
// TGID and real IDs, which are what the check allows anyway unless the
// sender runs with different effective or saved IDs.
func copyInControl(t *kernel.Task, h msghdr) (ctl *socket.SendControl, err error) {
	if h.controllen == 0 {
		return nil, nil
	}
	if h.controllen > maxControlLen {
		return nil, abilinux.ENOBUFS
	}
	buf := make([]byte, h.controllen)
	if _, err := t.CopyIn(uintptr(h.control), buf); err != nil {
		return nil, err
	}
	ctl = &socket.SendControl{}
	defer func() {
		if err != nil {
			dropFiles(t, ctl.Rights)
			ctl = nil
		}
	}()
	le := binary.LittleEndian
	for off := uint64(0); off+socket.SizeofCmsghdr <= uint64(len(buf)); {
		l := le.Uint64(buf[off:])
		level, typ := int32(le.Uint32(buf[off+8:])), int32(le.Uint32(buf[off+12:]))
		if l < socket.SizeofCmsghdr || l > uint64(len(buf))-off {
			return ctl, abilinux.EINVAL
		}
		data := buf[off+socket.SizeofCmsghdr : off+l]
		off += cmsgAlign(l)
		if level != socket.SOL_SOCKET {
			ctl.Msgs = append(ctl.Msgs, socket.ControlMessage{Level: level, Type: typ, Data: data})
			continue
		}
		switch typ {
		case scmRights:
			n := len(data) / 4
			if len(ctl.Rights)+n > scmMaxFD {
				return ctl, abilinux.EINVAL
			}
			for i := 0; i < n; i++ {
				f, err := t.GetFile(int32(le.Uint32(data[4*i:])))
				if err != nil {
					return ctl, err
				}
				ctl.Rights = append(ctl.Rights, f)
			}
		case socket.SCM_CREDENTIALS:
			if len(data) != 12 {
				return ctl, abilinux.EINVAL
			}
			if err := checkCredentials(t, int32(le.Uint32(data)), le.Uint32(data[4:]), le.Uint32(data[8:])); err != nil {
				return ctl, err
			}
		default:
			return ctl, abilinux.EINVAL
		}
	}
	return ctl, nil
}

// checkCredentials is Linux's scm_check_creds without capabilities: a
// sender may only claim its own TGID and its real, effective or saved
// IDs.
func checkCredentials(t *kernel.Task, pid int32, uid, gid uint32) error {
	c := t.Credentials()
	ns := c.UserNamespace
	okUID := uid == ns.MapFromKUID(c.RealKUID) || uid == ns.MapFromKUID(c.EffectiveKUID) || uid == ns.MapFromKUID(c.SavedKUID)
	okGID := gid == ns.MapFromKGID(c.RealKGID) || gid == ns.MapFromKGID(c.EffectiveKGID) || gid == ns.MapFromKGID(c.SavedKGID)
	if pid != int32(t.ThreadGroup().ID()) || !okUID || !okGID {
		return abilinux.EPERM
	}
	return nil
}

// copyOutRights installs received files in the task's table and writes
// their SCM_RIGHTS message to recvmsg's control buffer after the used
// bytes. It returns the control length used and whether it was cut
// short (MSG_CTRUNC); files that did not fit are closed, as on Linux.
func copyOutRights(t *kernel.Task, h msghdr, used uint64, files []*vfs.FileDescription, cloexec bool) (uint64, bool, error) {
	if len(files) == 0 {
		return used, false, nil
	}
	ctx := t.Context()
	defer dropFiles(t, files)
	if h.control == 0 || h.controllen < used+socket.SizeofCmsghdr {
		return used, true, nil
	}
	room := int((h.controllen - used - socket.SizeofCmsghdr) / 4)
	var fds []int32
	for _, f := range files[:min(room, len(files))] {
		fd, err := t.FDTable().NewFD(ctx, 0, f, vfs.FDFlags{CloseOnExec: cloexec})
		if err != nil {
			break
		}
		fds = append(fds, fd)
	}
	ctrunc := len(fds) < len(files)
	if len(fds) == 0 {
		return used, ctrunc, nil
	}
	l := uint64(socket.SizeofCmsghdr + 4*len(fds))
	buf := make([]byte, l)
	le := binary.LittleEndian
	le.PutUint64(buf, l)
	le.PutUint32(buf[8:], socket.SOL_SOCKET)
	le.PutUint32(buf[12:], scmRights)
	for i, fd := range fds {
		le.PutUint32(buf[socket.SizeofCmsghdr+4*i:], uint32(fd))
	}
	if _, err := t.CopyOut(uintptr(h.control+used), buf); err != nil {
		// Linux leaves the installed descriptors to the application
		// even when the copy faults; it reports the fault.
		return used, ctrunc, err
	}
	return used + min(cmsgAlign(l), h.controllen-used), ctrunc, nil
}
