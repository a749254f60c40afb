package filter

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
)

// packetChildSocket opens, before the filter, the kind of socket the
// packet link drives: AF_PACKET, with a short read timeout so that a
// read returns.
func packetChildSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	tv := unix.Timeval{Usec: 10000}
	return fd, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// mmsg is struct mmsghdr.
type mmsg struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// packetChild makes the packet link's calls under the filter: the
// allowed ones on its socket, or (packet-other-fd, packet-flags) the
// same calls on another fd or with other flags, which must kill.
func packetChild(mode string, fd int) int {
	var msgs [1]mmsg
	buf := make([]byte, 2048)
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	msgs[0].hdr.Iov = &iov
	msgs[0].hdr.SetIovlen(1)
	p := uintptr(unsafe.Pointer(&msgs[0]))
	switch mode {
	case "packet-allowed":
		// Nothing arrives on an unbound socket: the read times out.
		if _, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), p, 1, unix.MSG_WAITFORONE, 0, 0); e != unix.EAGAIN {
			fmt.Println("recvmmsg:", e)
			return 4
		}
		// An empty batch sends nothing.
		if r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), p, 0, 0, 0, 0); e != 0 || r != 0 {
			fmt.Println("sendmmsg:", r, e)
			return 4
		}
		fmt.Println("ok")
		return 0
	case "packet-other-fd":
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, 1, p, 1, unix.MSG_WAITFORONE, 0, 0)
		fmt.Printf("recvmmsg on fd 1 returned %d, errno %v\n", r, e)
		return 3
	case "packet-flags":
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), p, 1, unix.MSG_WAITFORONE|unix.MSG_ERRQUEUE, 0, 0)
		fmt.Printf("recvmmsg(MSG_ERRQUEUE) returned %d, errno %v\n", r, e)
		return 3
	}
	return 2
}

func TestPacketLinkWorkloadSurvives(t *testing.T) {
	if fd, err := packetChildSocket(); err != nil {
		t.Skipf("no AF_PACKET socket here: %v", err)
	} else {
		unix.Close(fd)
	}
	out, err := runInChild(t, "packet-allowed")
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("child: %v: %s", err, out)
	}
	for _, mode := range []string{"packet-other-fd", "packet-flags"} {
		t.Run(mode, func(t *testing.T) { wantKilled(t, mode) })
	}
}

// TestPacketLinkDecisions checks that the packet calls are allowed on
// the link's fd only, with the link's flags only, and not at all
// without a link.
func TestPacketLinkDecisions(t *testing.T) {
	compile := func(fd int) seccomp.Program {
		rs, err := Rules(Options{Platform: "systrap", PID: 1234, PacketFD: fd})
		if err != nil {
			t.Fatal(err)
		}
		p, err := seccomp.Compile(rs)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	withLink, without := compile(9), compile(0)
	for _, c := range []struct {
		name     string
		nr       uintptr
		args     []uint64
		want     seccomp.Action
		baseWant seccomp.Action
	}{
		{"recvmmsg on the link", unix.SYS_RECVMMSG, []uint64{9, 0x1000, 32, unix.MSG_WAITFORONE, 0}, seccomp.Allow, seccomp.KillProcess},
		{"recvmmsg on another fd", unix.SYS_RECVMMSG, []uint64{8, 0x1000, 32, unix.MSG_WAITFORONE, 0}, seccomp.KillProcess, seccomp.KillProcess},
		{"recvmmsg with a timeout", unix.SYS_RECVMMSG, []uint64{9, 0x1000, 32, unix.MSG_WAITFORONE, 0x2000}, seccomp.KillProcess, seccomp.KillProcess},
		{"recvmmsg MSG_ERRQUEUE", unix.SYS_RECVMMSG, []uint64{9, 0x1000, 32, unix.MSG_ERRQUEUE, 0}, seccomp.KillProcess, seccomp.KillProcess},
		{"sendmmsg on the link", unix.SYS_SENDMMSG, []uint64{9, 0x1000, 64, 0}, seccomp.Allow, seccomp.KillProcess},
		{"sendmmsg on another fd", unix.SYS_SENDMMSG, []uint64{3, 0x1000, 64, 0}, seccomp.KillProcess, seccomp.KillProcess},
		{"packet socket", unix.SYS_SOCKET, []uint64{unix.AF_PACKET, unix.SOCK_RAW, 0}, seccomp.KillProcess, seccomp.KillProcess},
		{"bind (rebinding the link)", unix.SYS_BIND, []uint64{9, 0x1000, 20}, seccomp.KillProcess, seccomp.KillProcess},
		{"setsockopt on the link", unix.SYS_SETSOCKOPT, []uint64{9, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP}, seccomp.KillProcess, seccomp.KillProcess},
	} {
		for _, run := range []struct {
			p    seccomp.Program
			want seccomp.Action
			mode string
		}{{withLink, c.want, "link"}, {without, c.baseWant, "base"}} {
			d := linux.SeccompData{Nr: int32(c.nr), Arch: seccomp.NativeArch}
			copy(d.Args[:], c.args)
			got, err := seccomp.Evaluate(run.p, d)
			if err != nil {
				t.Fatal(err)
			}
			if got != run.want {
				t.Errorf("%s (%s): got %v, want %v", c.name, run.mode, got, run.want)
			}
		}
	}
}
