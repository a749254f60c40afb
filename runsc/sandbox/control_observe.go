package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"appkernel.dev/appkernel/runsc/boot"
)

// maxObserveAnswer bounds what CallInto reads: a metrics snapshot of
// every syscall's count is tens of kilobytes, a goroutine dump more.
const maxObserveAnswer = 16 << 20

// CallInto sends req to the sandbox listening at sock and decodes its
// answer into out. It is for the observability commands (metrics, debug)
// whose answers are not a boot.ControlResponse; the caller checks the
// error field of out. The sandbox is untrusted: its answer is bounded in
// size and time.
func CallInto(sock string, req boot.ControlRequest, out any, timeout time.Duration) error {
	conn, err := dial(sock)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return ErrNotRunning
		}
		return fmt.Errorf("connecting to the sandbox: %w", err)
	}
	defer conn.Close()
	if timeout > 0 {
		conn.SetDeadline(time.Now().Add(timeout))
	}
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := conn.Write(data); err != nil {
		return fmt.Errorf("sending %q to the sandbox: %w", req.Cmd, err)
	}
	if err := json.NewDecoder(io.LimitReader(conn, maxObserveAnswer)).Decode(out); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return ErrNotRunning
		}
		return fmt.Errorf("reading the sandbox's answer to %q: %w", req.Cmd, err)
	}
	return nil
}

// Stream sends req to the sandbox at sock and returns a decoder of the
// answers that follow, for a request answered more than once
// (boot.DebugCompatAtExit). The caller closes the returned connection.
// Answers are bounded in size as CallInto's are; there is no deadline.
func Stream(sock string, req boot.ControlRequest) (*json.Decoder, io.Closer, error) {
	conn, err := dial(sock)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, nil, ErrNotRunning
		}
		return nil, nil, fmt.Errorf("connecting to the sandbox: %w", err)
	}
	data, err := json.Marshal(req)
	if err == nil {
		_, err = conn.Write(data)
	}
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("sending %q to the sandbox: %w", req.Cmd, err)
	}
	return json.NewDecoder(io.LimitReader(conn, maxObserveAnswer)), conn, nil
}
