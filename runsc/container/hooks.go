package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"appkernel.dev/appkernel/pkg/log"
)

// runHooks runs hooks in order, in runsc's own namespaces, each with the
// container's OCI state on stdin, and stops at the first failure. The
// hooks that runc runs inside the container's namespaces
// (createContainer, startContainer) run here too: the container's
// namespaces belong to the Sentry, not to the host.
func runHooks(kind string, hooks []specs.Hook, st specs.State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, data); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// runHooksLogged runs hooks and logs, rather than returns, a failure: for
// the poststart and poststop hooks, whose failure the OCI spec says must
// not change the container's fate.
func runHooksLogged(kind string, hooks []specs.Hook, st specs.State) {
	if err := runHooks(kind, hooks, st); err != nil {
		log.Warningf("%v", err)
	}
}

func runHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout %d is not positive", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	// The hook's environment is exactly what the spec gives (runc does
	// the same), not runsc's.
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// ociState is the state the hooks get on stdin.
func (s *State) ociState(status specs.ContainerState) specs.State {
	return specs.State{
		Version:     specs.Version,
		ID:          s.ID,
		Status:      status,
		Pid:         s.Sandbox.PID,
		Bundle:      s.Bundle,
		Annotations: s.Annotations,
	}
}
