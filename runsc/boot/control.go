package boot

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
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
)

// ControlRequest is one call on the control socket.
type ControlRequest struct {
	Cmd    string `json:"cmd"`
	Signal int    `json:"signal,omitempty"`
	All    bool   `json:"all,omitempty"`
}

// ControlResponse answers a ControlRequest.
type ControlResponse struct {
	// Error is empty on success.
	Error string `json:"error,omitempty"`
	// WaitStatus is the container's wait(2) status, for CtlWait.
	WaitStatus uint32 `json:"waitStatus,omitempty"`
}

// maxRequestSize bounds what the server reads from one connection.
const maxRequestSize = 4096

// waiterGrace is how long an exiting sandbox lets its wait responses
// drain before the process goes.
const waiterGrace = time.Second

// controlServer serves one container's control socket.
type controlServer struct {
	s  *Sandbox
	ln *net.UnixListener

	// mu guards started and the end of an unstarted container.
	mu      sync.Mutex
	started bool
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
	var req ControlRequest
	if err := json.NewDecoder(&limitedConn{conn, maxRequestSize}).Decode(&req); err != nil {
		reply(conn, ControlResponse{Error: fmt.Sprintf("bad request: %v", err)})
		return
	}
	var resp ControlResponse
	switch req.Cmd {
	case CtlStart:
		if err := c.start(); err != nil {
			resp.Error = err.Error()
		}
	case CtlSignal:
		if err := c.signal(linux.Signal(req.Signal), req.All); err != nil {
			resp.Error = err.Error()
		}
	case CtlWait:
		<-c.exited
		resp.WaitStatus = uint32(c.status)
	default:
		resp.Error = fmt.Sprintf("unknown command %q", req.Cmd)
	}
	reply(conn, resp)
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

func (c *controlServer) signal(sig linux.Signal, all bool) error {
	if !sig.IsValid() {
		return fmt.Errorf("invalid signal %d", sig)
	}
	c.mu.Lock()
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
