package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/runsc/boot"
)

// ErrNotRunning means no sandbox process answers on the control socket:
// it has exited (or was never there).
var ErrNotRunning = errors.New("container not running")

// CallTimeout bounds a control call that should answer at once.
const CallTimeout = 10 * time.Second

// Call sends req to the sandbox process listening at sock, with files
// (for CtlExec), and returns its answer. A timeout of 0 waits as long as
// it takes (for CtlWait and CtlWaitPID).
func Call(sock string, req boot.ControlRequest, timeout time.Duration, files ...*os.File) (*boot.ControlResponse, error) {
	conn, err := dial(sock)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, ErrNotRunning
		}
		return nil, fmt.Errorf("connecting to the sandbox: %w", err)
	}
	defer conn.Close()
	if timeout > 0 {
		conn.SetDeadline(time.Now().Add(timeout))
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	// One message, so the files arrive with the request's first bytes.
	if _, _, err := conn.WriteMsgUnix(data, oob, nil); err != nil {
		return nil, fmt.Errorf("sending %q to the sandbox: %w", req.Cmd, err)
	}
	var resp boot.ControlResponse
	if err := json.NewDecoder(io.LimitReader(conn, 1<<20)).Decode(&resp); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			// The sandbox went away while answering.
			return nil, ErrNotRunning
		}
		return nil, fmt.Errorf("reading the sandbox's answer to %q: %w", req.Cmd, err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}
