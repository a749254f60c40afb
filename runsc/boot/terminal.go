package boot

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/host"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// terminalOf returns t's stdin when it is a host terminal.
func terminalOf(t *kernel.Task) kernel.TTY {
	f, err := t.GetFile(0)
	if err != nil {
		return nil
	}
	defer f.DecRef(t.Context())
	return host.TTY(f)
}

// forward delivers a signal the sandbox process received. With a host
// terminal the keyboard's signals are the terminal's: the sandbox
// process is the host terminal's session leader (runsc makes it so), so
// the host's line discipline sends VINTR/VQUIT/VSUSP and window changes
// to it, and they go on to the terminal's foreground process group
// inside, as the container's own kernel would send them. Everything
// else goes to the first process.
func (s *Sandbox) forward(sig linux.Signal) {
	if s.terminal != nil {
		switch sig {
		case linux.SIGINT, linux.SIGQUIT, linux.SIGTSTP, linux.SIGWINCH:
			s.terminal.TTYControl().SignalForeground(sig)
			return
		}
	}
	if err := s.k.SignalRootProcess(sig); err != nil {
		log.Debugf("forwarding %v: %v", sig, err)
	}
}
