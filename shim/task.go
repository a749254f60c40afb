package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/pkg/shutdown"
	"github.com/containerd/containerd/plugin"
	"github.com/containerd/containerd/protobuf"
	"github.com/containerd/containerd/runtime/v2/runc/task"
	"github.com/containerd/containerd/runtime/v2/shim"
	"github.com/containerd/ttrpc"
	"github.com/containerd/typeurl/v2"
)

// stateRoot is runsc's --root for containers of this shim, beside
// containerd's runc directory.
const stateRoot = "/run/containerd/runsc"

func init() {
	plugin.Register(&plugin.Registration{
		Type:     plugin.TTRPCPlugin,
		ID:       "task",
		Requires: []plugin.Type{plugin.EventPlugin, plugin.InternalPlugin},
		InitFn: func(ic *plugin.InitContext) (interface{}, error) {
			pp, err := ic.GetByID(plugin.EventPlugin, "publisher")
			if err != nil {
				return nil, err
			}
			ss, err := ic.GetByID(plugin.InternalPlugin, "shutdown")
			if err != nil {
				return nil, err
			}
			svc, err := task.NewTaskService(ic.Context, pp.(shim.Publisher), ss.(shutdown.Service))
			if err != nil {
				return nil, err
			}
			return &runscTask{TaskService: svc, binary: runscBinary()}, nil
		},
	})
}

// runscTask is the runc task service with runsc as the runtime binary: it
// fills in the create options' binary name (and state root) that a
// runtime configured for runc would carry. The service records them in
// the bundle, so the shim's cleanup calls runsc too.
type runscTask struct {
	taskAPI.TaskService
	binary string
}

// RegisterTTRPC registers the wrapper, not the inner service, so that
// Create goes through it.
func (t *runscTask) RegisterTTRPC(server *ttrpc.Server) error {
	taskAPI.RegisterTaskService(server, t)
	return nil
}

// Create implements taskAPI.TaskService.
func (t *runscTask) Create(ctx context.Context, r *taskAPI.CreateTaskRequest) (*taskAPI.CreateTaskResponse, error) {
	opts := &options.Options{}
	if r.Options.GetValue() != nil {
		v, err := typeurl.UnmarshalAny(r.Options)
		if err != nil {
			return nil, err
		}
		if o, ok := v.(*options.Options); ok {
			opts = o
		}
	}
	if opts.BinaryName == "" {
		opts.BinaryName = t.binary
	}
	if opts.Root == "" {
		opts.Root = stateRoot
	}
	anyOpts, err := typeurl.MarshalAny(opts)
	if err != nil {
		return nil, err
	}
	r.Options = protobuf.FromAny(anyOpts)
	return t.TaskService.Create(ctx, r)
}

// runscBinary is the runsc installed beside the shim, else the one on
// PATH.
func runscBinary() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "runsc")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("runsc"); err == nil {
		return p
	}
	return "runsc"
}
