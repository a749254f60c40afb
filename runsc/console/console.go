// Package console gives a container a terminal the way OCI engines ask
// for one: runsc opens a host pseudo-terminal, hands its master to the
// engine over the --console-socket, and gives the replica to the
// container as its stdio.
package console

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// NewPty opens a new host pseudo-terminal and returns its master and
// replica, both close-on-exec.
func NewPty() (master, replica *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlocking the pty: %w", err)
	}
	// TIOCGPTPEER opens the replica through the master itself, so no
	// path lookup can be raced.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, peerFlags)
	rfd := int(r)
	if errno != 0 {
		n, nerr := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
		if nerr != nil {
			master.Close()
			return nil, nil, fmt.Errorf("finding the pty's number: %w", nerr)
		}
		rfd, err = unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			master.Close()
			return nil, nil, fmt.Errorf("opening the pty's replica: %w", err)
		}
	}
	return master, os.NewFile(uintptr(rfd), "pty-replica"), nil
}

// peerFlags are TIOCGPTPEER's open flags.
const peerFlags = unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC

// SendMaster connects to the engine's console socket at path and sends
// it master with SCM_RIGHTS. The payload is a name for the fd, which the
// engines ignore.
func SendMaster(path string, master *os.File) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("connecting to the console socket: %w", err)
	}
	defer conn.Close()
	if _, _, err := conn.WriteMsgUnix([]byte("pty-master"), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("sending the pty master to the console socket: %w", err)
	}
	return nil
}
