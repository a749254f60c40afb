package container

import (
	"errors"
	"os"

	"appkernel.dev/appkernel/runsc/console"
)

// checkTerminal applies runc's rules for process.terminal and
// --console-socket: a detached process with a terminal needs somewhere
// to send the master, and a socket without a terminal is a caller's
// mistake.
func checkTerminal(terminal bool, consoleSocket string, detach bool) error {
	switch {
	case terminal && consoleSocket == "" && detach:
		return errors.New("process.terminal is true but no --console-socket was given to receive the terminal")
	case !terminal && consoleSocket != "":
		return errors.New("--console-socket given but process.terminal is false")
	}
	return nil
}

// SendTerminal opens a host pty, sends its master to the console socket
// and returns the replica, which becomes the process's stdio.
func SendTerminal(consoleSocket string) (*os.File, error) {
	master, replica, err := console.NewPty()
	if err != nil {
		return nil, err
	}
	defer master.Close()
	if err := console.SendMaster(consoleSocket, master); err != nil {
		replica.Close()
		return nil, err
	}
	return replica, nil
}
