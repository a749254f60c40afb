package boot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// The control socket is how `runsc start`, `kill` and `wait` reach a
// container's sandbox process. Each connection carries one JSON
// ControlRequest and gets one JSON ControlResponse.

// Control commands.
const (
	// CtlStart runs the created container's first process.
	CtlStart = "start"
	// CtlSignal sends Signal to the first process (with All, to every
	// process of the container).
	CtlSignal = "signal"
	// CtlWait answers once the container has exited, with its status.
	CtlWait = "wait"
	// CtlExec starts Process in the running container with the three
	// files sent along (SCM_RIGHTS) as its stdio, and answers its PID.
	CtlExec = "exec"
	// CtlWaitPID answers once the exec'd process PID has exited, with its
	// status. If the caller hangs up first, the process is killed: the
	// caller is the `runsc exec` whose exit status engines wait for, and a
	// process nobody can wait for any more must not run on unseen.
	CtlWaitPID = "waitpid"
	// CtlPause stops every process of the container from running until
	// CtlResume.
	CtlPause  = "pause"
	CtlResume = "resume"
	// CtlCreateSub builds container Container in this sandbox from
	// Config, with the files sent along: its gofer socket and stdio.
	CtlCreateSub = "create-sub"
	// CtlAttachNetwork gives the sandbox, before its first container
	// starts, the interface Link the launcher took over for
	// --network=sandbox, with its AF_PACKET socket sent along.
	CtlAttachNetwork = "attach-network"
	// CtlStartSub starts the subcontainer Container.
	CtlStartSub = "start-sub"
	// CtlWaitSub answers once the subcontainer Container has exited, with
	// its status; like CtlWaitPID, the container is killed if the caller
	// hangs up first (the caller is the process engines reap for it).
	CtlWaitSub = "wait-sub"
)

// ControlRequest is one call on the control socket.
type ControlRequest struct {
	Cmd    string `json:"cmd"`
	Signal int    `json:"signal,omitempty"`
	All    bool   `json:"all,omitempty"`
	// PID names an exec'd process for CtlWaitPID and CtlSignal (0: the
	// container's first process).
	PID int32 `json:"pid,omitempty"`
	// Process is what CtlExec runs.
	Process *ProcessArgs `json:"process,omitempty"`
	// Container names a subcontainer for CtlExec, CtlSignal and the
	// subcontainer commands; empty for the sandbox's first container.
	Container string `json:"container,omitempty"`
	// Config describes the subcontainer CtlCreateSub builds.
	Config *Config `json:"config,omitempty"`
	// Debug is CtlDebug's action.
	Debug *DebugRequest `json:"debug,omitempty"`
	// Link describes CtlAttachNetwork's interface.
	Link *NetworkLink `json:"link,omitempty"`
}

// ControlResponse answers a ControlRequest.
type ControlResponse struct {
	// Error is empty on success.
	Error string `json:"error,omitempty"`
	// WaitStatus is the container's wait(2) status, for CtlWait.
	WaitStatus uint32 `json:"waitStatus,omitempty"`
	// PID is the process CtlExec started.
	PID int32 `json:"pid,omitempty"`
}

// maxRequestSize bounds what the server reads from one connection (an
// exec request carries the process's environment).
const maxRequestSize = 1 << 20

// firstReadSize is how much of a request the first read takes, with the
// files sent along.
const firstReadSize = 64 << 10

// waiterGrace is how long an exiting sandbox lets its wait responses
// drain before the process goes.
const waiterGrace = time.Second

// controlServer serves one container's control socket.
type controlServer struct {
	s  *Sandbox
	ln *net.UnixListener

	// mu guards started, the end of an unstarted container, and execs.
	mu      sync.Mutex
	started bool
	execs   execTable
	// killed is closed, with killStatus set, when a signal ends a
	// container that was never started.
	killed     chan struct{}
	killStatus linux.WaitStatus

	// exited is closed once status is final.
	exited chan struct{}
	status linux.WaitStatus
	// waiters counts connections still being answered.
	waiters sync.WaitGroup
}

// ServeControl answers control requests on ln until the container has
// ended, and returns how it ended. onExit runs with the final status
// before any waiter is answered (the creator records it there for
// `runsc wait` and `state` calls that come after the sandbox is gone).
func (s *Sandbox) ServeControl(ln *net.UnixListener, onExit func(linux.WaitStatus)) linux.WaitStatus {
	c := &controlServer{s: s, ln: ln, killed: make(chan struct{}), exited: make(chan struct{})}
	go c.accept()

	startedDone := make(chan linux.WaitStatus, 1)
	go func() {
		<-s.k.AllTasksExited()
		startedDone <- s.WaitContainer()
	}()
	var ws linux.WaitStatus
	select {
	case ws = <-startedDone:
	case <-c.killed:
		ws = c.killStatus
	}
	if onExit != nil {
		onExit(ws)
	}
	c.status = ws
	close(c.exited)
	ln.Close()
	done := make(chan struct{})
	go func() { c.waiters.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waiterGrace):
	}
	return ws
}

func (c *controlServer) accept() {
	for {
		conn, err := c.ln.AcceptUnix()
		if err != nil {
			return
		}
		c.waiters.Add(1)
		go func() {
			defer c.waiters.Done()
			defer conn.Close()
			c.serve(conn)
		}()
	}
}

func (c *controlServer) serve(conn *net.UnixConn) {
	if err := checkPeer(conn); err != nil {
		log.Warningf("control: refusing connection: %v", err)
		return
	}
	req, files, err := readRequest(conn)
	// Whatever a command does not take is closed.
	defer func() { closeFDs(files) }()
	if err != nil {
		reply(conn, ControlResponse{Error: fmt.Sprintf("bad request: %v", err)})
		return
	}
	var resp ControlResponse
	switch req.Cmd {
	case CtlStart:
		err = c.start()
	case CtlSignal:
		if req.Container != "" && req.PID == 0 {
			err = c.s.SignalSubcontainer(req.Container, linux.Signal(req.Signal), req.All)
		} else {
			err = c.signal(linux.Signal(req.Signal), req.All, req.PID)
		}
	case CtlWait:
		<-c.exited
		resp.WaitStatus = uint32(c.status)
	case CtlCreateSub:
		err = c.createSub(req.Container, req.Config, files)
		files = nil
	case CtlAttachNetwork:
		err = c.attachNetwork(req.Link, files)
		files = nil
	case CtlStartSub:
		err = c.s.StartSubcontainer(req.Container)
	case CtlWaitSub:
		var ws linux.WaitStatus
		ws, err = c.waitSub(conn, req.Container)
		resp.WaitStatus = uint32(ws)
	case CtlExec:
		resp.PID, err = c.exec(req.Container, req.Process, files)
		files = nil
	case CtlPause:
		err = c.pause(true)
	case CtlResume:
		err = c.pause(false)
	case CtlMetricMetadata, CtlMetrics:
		c.serveMetrics(conn, req.Cmd)
		return
	case CtlDebug:
		c.serveDebug(conn, req.Debug)
		return
	case CtlWaitPID:
		var ws linux.WaitStatus
		ws, err = c.waitPID(conn, req.PID)
		resp.WaitStatus = uint32(ws)
	default:
		err = fmt.Errorf("unknown command %q", req.Cmd)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	reply(conn, resp)
}

// readRequest reads one request and the files sent with its first bytes.
func readRequest(conn *net.UnixConn) (ControlRequest, []int, error) {
	var req ControlRequest
	buf := make([]byte, firstReadSize)
	oob := make([]byte, unix.CmsgSpace(4*maxRequestFiles))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return req, nil, err
	}
	files, ferr := parseRights(oob[:oobn])
	rest := &limitedConn{conn, maxRequestSize - n}
	if err := json.NewDecoder(io.MultiReader(bytes.NewReader(buf[:n]), rest)).Decode(&req); err != nil {
		return req, files, err
	}
	return req, files, ferr
}

// maxRequestFiles is the most files a request carries (a subcontainer's
// gofer socket and stdio).
const maxRequestFiles = 4

// parseRights returns the host fds of the SCM_RIGHTS messages in oob.
// They are raw fds, not *os.File: the Sentry hands them on as they are
// (its seccomp filter has no dup).
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var all []int
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		all = append(all, fds...)
	}
	return all, nil
}

func reply(conn *net.UnixConn, resp ControlResponse) {
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := json.NewEncoder(conn).Encode(resp); err != nil {
		log.Debugf("control: replying: %v", err)
	}
}

// checkPeer accepts only callers with our own uid: the socket's directory
// already keeps others out, this holds even if its mode is loosened.
func checkPeer(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if cred.Uid != uint32(unix.Geteuid()) && cred.Uid != 0 {
		return fmt.Errorf("peer uid %d", cred.Uid)
	}
	return nil
}

func (c *controlServer) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.killed:
		return errors.New("the container was killed before it started")
	default:
	}
	if c.started {
		return errors.New("the container has already been started")
	}
	c.started = true
	return c.s.StartContainer()
}

// attachNetwork hands the sandbox the interface the launcher took over;
// only before the first container starts, while no socket has read the
// interface table.
func (c *controlServer) attachNetwork(l *NetworkLink, files []int) error {
	if l == nil || len(files) != 1 {
		closeFDs(files)
		return errors.New("attach-network takes an interface and its socket")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		closeFDs(files)
		return errors.New("the container has already been started")
	}
	return c.s.attachNetworkLink(l, files[0])
}

func (c *controlServer) signal(sig linux.Signal, all bool, pid int32) error {
	if !sig.IsValid() {
		return fmt.Errorf("invalid signal %d", sig)
	}
	c.mu.Lock()
	if pid != 0 {
		tg, err := c.execs.lookup(pid)
		c.mu.Unlock()
		if err != nil {
			return err
		}
		return signalThreadGroup(tg, sig)
	}
	if !c.started {
		defer c.mu.Unlock()
		// Nothing runs yet, so nothing can handle the signal: its
		// default action decides, as for runc's waiting init.
		select {
		case <-c.killed:
			return nil
		default:
		}
		if terminatesByDefault(sig) {
			c.killStatus = linux.WaitStatusSignaled(sig, false)
			close(c.killed)
		}
		return nil
	}
	c.mu.Unlock()
	select {
	case <-c.exited:
		return errors.New("container not running")
	default:
	}
	return c.s.Signal(sig, all)
}

// pause freezes (or thaws) a started container.
func (c *controlServer) pause(freeze bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		return errors.New("the container has not been started")
	}
	if freeze {
		c.s.k.Pause()
	} else {
		c.s.k.Unpause()
	}
	return nil
}

// exec starts p with the host fds files as its stdio; it owns files.
func (c *controlServer) exec(container string, p *ProcessArgs, files []int) (int32, error) {
	if p == nil || len(files) != 3 {
		closeFDs(files)
		return 0, fmt.Errorf("exec: want a process and 3 stdio files, got %d files", len(files))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		closeFDs(files)
		return 0, errors.New("cannot exec in a container that has not been started")
	}
	select {
	case <-c.exited:
		closeFDs(files)
		return 0, errors.New("container not running")
	default:
	}
	tg, err := c.s.Exec(container, p, [3]int{files[0], files[1], files[2]})
	if err != nil {
		return 0, err
	}
	return c.execs.add(tg), nil
}

// waitPID waits for the exec'd process pid to exit, killing it if the
// caller hangs up first.
func (c *controlServer) waitPID(conn *net.UnixConn, pid int32) (linux.WaitStatus, error) {
	c.mu.Lock()
	tg, err := c.execs.lookup(pid)
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	ws := c.waitOrKill(conn, tg, fmt.Sprintf("exec'd process %d", pid), func() { signalThreadGroup(tg, linux.SIGKILL) })
	c.mu.Lock()
	c.execs.remove(pid)
	c.mu.Unlock()
	return ws, nil
}

// waitOrKill waits for tg, a process started from outside the sandbox,
// to exit and returns its status. If the caller on conn hangs up first,
// kill ends what (the caller is the process the engine reaps for it, and
// nobody could learn how it ends any more).
func (c *controlServer) waitOrKill(conn *net.UnixConn, tg *kernel.ThreadGroup, what string, kill func()) linux.WaitStatus {
	exited, status := tg.ExternalExit()
	hungUp := make(chan struct{})
	go func() {
		// The caller sends nothing more: a read returns only when it
		// hangs up (or when the reply is written and conn closed).
		var b [1]byte
		conn.Read(b[:])
		close(hungUp)
	}()
	select {
	case <-exited:
	case <-hungUp:
		log.Infof("control: the waiter of %s went away; killing it", what)
		kill()
		<-exited
	case <-c.exited:
		// The sandbox's first container ended, and every process with it.
		<-exited
	}
	return status()
}

// terminatesByDefault reports whether sig's default action ends a
// process (signal(7): Term or Core).
func terminatesByDefault(sig linux.Signal) bool {
	switch sig {
	case linux.SIGCHLD, linux.SIGCONT, linux.SIGURG, linux.SIGWINCH,
		linux.SIGSTOP, linux.SIGTSTP, linux.SIGTTIN, linux.SIGTTOU:
		return false
	}
	return true
}

// limitedConn stops reading after n bytes.
type limitedConn struct {
	c *net.UnixConn
	n int
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("request too large")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= n
	return n, err
}

// CreationStatus is what a sandbox process in container mode reports to
// its creator, once, on its status pipe: Error is empty when the container
// is created and waiting for CtlStart.
type CreationStatus struct {
	Error string `json:"error,omitempty"`
}
