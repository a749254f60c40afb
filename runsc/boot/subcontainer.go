package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// A subcontainer is a container that joined this sandbox after its first
// one, as a Kubernetes pod's containers join the pod's sandbox: its own
// root file system (from a gofer of its own), mounts and PID namespace,
// sharing the Sentry (and so the network, IPC and memory) with the rest.
type subcontainer struct {
	id  string
	env containerEnv
	// init is its first process, created stopped until start.
	init    *kernel.Task
	started bool
}

// containerEnv is what the processes of one container share: its mount
// and PID namespaces (nil: the sandbox's root PID namespace) and the
// bundle's seccomp profile.
type containerEnv struct {
	mntns   *vfs.MountNamespace
	pidns   *kernel.PIDNamespace
	seccomp *SeccompConfig
}

// rootEnv is the environment of the sandbox's first container.
func (s *Sandbox) rootEnv() containerEnv {
	return containerEnv{mntns: s.mntns, seccomp: s.conf.Seccomp}
}

// subcontainers are a sandbox's subcontainers by id.
type subcontainers struct {
	// mu guards byID and each subcontainer's started.
	mu   sync.Mutex
	byID map[string]*subcontainer
}

func (ss *subcontainers) get(id string) (*subcontainer, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sub, ok := ss.byID[id]
	if !ok {
		return nil, fmt.Errorf("no container %q in this sandbox", id)
	}
	return sub, nil
}

// CreateSubcontainer builds container id from conf: its file system,
// served by the gofer at goferFD, and its first process with the host fds
// stdio, loaded but not started. It owns goferFD and stdio.
func (s *Sandbox) CreateSubcontainer(id string, conf *Config, goferFD int, stdio [3]int) error {
	gofer := os.NewFile(uintptr(goferFD), "gofer")
	if id == "" || len(conf.Argv) == 0 {
		gofer.Close()
		closeFDs(stdio[:])
		return errors.New("a subcontainer needs an id and a process")
	}
	s.subs.mu.Lock()
	if _, ok := s.subs.byID[id]; ok {
		s.subs.mu.Unlock()
		gofer.Close()
		closeFDs(stdio[:])
		return fmt.Errorf("container %q already exists in this sandbox", id)
	}
	if s.subs.byID == nil {
		s.subs.byID = make(map[string]*subcontainer)
	}
	// Reserved while it is built, so a concurrent create of the same id
	// fails.
	s.subs.byID[id] = nil
	s.subs.mu.Unlock()

	sub, err := s.buildSubcontainer(id, conf, gofer, stdio)
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	if err != nil {
		delete(s.subs.byID, id)
		return err
	}
	s.subs.byID[id] = sub
	return nil
}

func (s *Sandbox) buildSubcontainer(id string, conf *Config, gofer *os.File, stdio [3]int) (*subcontainer, error) {
	creds := s.credentials(conf.UID, conf.GID, nil)
	ctx := auth.ContextWithCredentials(context.Background(), creds)
	mntns, err := s.setupFilesystems(ctx, creds, conf, gofer, func() { s.killSubcontainer(id) })
	if err != nil {
		closeFDs(stdio[:])
		return nil, err
	}
	sub := &subcontainer{id: id, env: containerEnv{mntns: mntns, pidns: s.k.NewChildPIDNamespace(), seccomp: conf.Seccomp}}
	t, err := s.createProcess(ctx, sub.env, &ProcessArgs{Argv: conf.Argv, Env: conf.Env, Cwd: conf.Cwd, UID: conf.UID, GID: conf.GID}, stdio)
	if err != nil {
		return nil, err
	}
	sub.init = t
	return sub, nil
}

// StartSubcontainer runs a created subcontainer's first process.
func (s *Sandbox) StartSubcontainer(id string) error {
	sub, err := s.subs.get(id)
	if err != nil {
		return err
	}
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	if sub.started {
		return fmt.Errorf("container %q has already been started", id)
	}
	sub.started = true
	sub.init.Start()
	return nil
}

// SignalSubcontainer sends sig to a subcontainer's first process or, with
// all, to each of its processes. SIGKILL to one that was never started
// starts it to die: its first process then takes the pending signal
// before running any instruction.
func (s *Sandbox) SignalSubcontainer(id string, sig linux.Signal, all bool) error {
	sub, err := s.subs.get(id)
	if err != nil {
		return err
	}
	info := &linux.SignalInfo{Signo: int32(sig), Code: linux.SI_USER}
	if !all {
		err = sub.init.ThreadGroup().SendExternalSignal(info)
	} else {
		for _, pid := range s.k.ProcThreadGroupIDs(sub.env.pidns) {
			if tg := s.k.ProcThreadGroup(sub.env.pidns, pid); tg != nil {
				tg.SendExternalSignal(info)
			}
		}
	}
	if sig == linux.SIGKILL {
		s.subs.mu.Lock()
		if !sub.started {
			sub.started = true
			sub.init.Start()
		}
		s.subs.mu.Unlock()
	}
	return err
}

// killSubcontainer kills every process of a subcontainer.
func (s *Sandbox) killSubcontainer(id string) { s.SignalSubcontainer(id, linux.SIGKILL, true) }

// subcontainerExit returns what waits for a subcontainer's end.
func (s *Sandbox) subcontainerExit(id string) (*kernel.ThreadGroup, error) {
	sub, err := s.subs.get(id)
	if err != nil {
		return nil, err
	}
	return sub.init.ThreadGroup(), nil
}

// removeSubcontainer forgets a subcontainer once it has ended.
func (s *Sandbox) removeSubcontainer(id string) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	delete(s.subs.byID, id)
}
