package kernel

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/loader"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// defaultStackLimit is RLIMIT_STACK's soft default on Linux, for the
// first process.
const defaultStackLimit = 8 << 20

// loadedImage is a program loaded into a fresh address space, ready to be
// installed in a task.
type loadedImage struct {
	mm     *mm.MemoryManager
	ac     *arch.Context
	result *loader.Result
	// exe is the program file, with a reference for the task.
	exe vfs.VirtualDentry
}

// loadImage builds a new address space holding filename. Nothing of the
// calling task changes; on error the new address space is released.
func (k *Kernel) loadImage(ctx vfsCtx, filename string, argv, envv []string, stackLimit uint64, randomize bool) (*loadedImage, error) {
	// The file first: a shell's search of PATH fails here many times, and
	// a new address space is a new host process.
	opener := &execOpener{ctx: ctx.ctx, vfs: k.VFS, creds: ctx.creds, root: ctx.root, cwd: ctx.cwd}
	defer opener.release()
	file, err := opener.Open(filename)
	if err != nil {
		return nil, err
	}
	m, err := mm.New(k.MemoryFile, k.Platform.NewAddressSpace)
	if err != nil {
		return nil, err
	}
	layout := mm.NewMmapLayout(k.Platform.MaxUserAddress(), stackLimit, randomize)
	m.SetMmapLayout(layout)
	c := ctx.creds
	res, err := loader.Load(&loader.LoadArgs{
		File:     file,
		Filename: filename,
		Argv:     argv,
		Envv:     envv,
		Opener:   opener,
		Mapper:   vdsoMapper{execMapper{m}},
		VDSO:     k.VDSO.loadFile(),
		Layout: loader.Layout{
			StackTop:   layout.StackTop,
			StackLimit: stackLimit,
			TaskSize:   k.Platform.MaxUserAddress(),
			Randomize:  randomize,
		},
		Rand: rand.Reader,
		Creds: loader.Creds{
			UID: uint32(c.RealKUID), EUID: uint32(c.EffectiveKUID),
			GID: uint32(c.RealKGID), EGID: uint32(c.EffectiveKGID),
		},
		HWCap:           k.Host.HWCap,
		HWCap2:          k.Host.HWCap2,
		MinSigStackSize: k.Host.MinSigStackSize,
		RseqFeatureSize: RseqFeatureSize, // RSEQ (task_rseq.go)
	})
	if err != nil {
		m.DecUsers()
		return nil, err
	}
	m.SetStackStart(uintptr(res.StackStart))
	ac := arch.NewContext(k.Platform.FPStateSize())
	res.Regs.Apply(&ac.Regs)
	img := &loadedImage{mm: m, ac: ac, result: res}
	if f, ok := res.Exe.(*execFile); ok {
		img.exe = f.fd.VirtualDentry()
		img.exe.IncRef()
	}
	return img, nil
}

// vfsCtx is who a path resolution acts for.
type vfsCtx struct {
	ctx       context.Context
	creds     *auth.Credentials
	root, cwd vfs.VirtualDentry
}

// CreateProcessArgs describes the sandbox's first process.
type CreateProcessArgs struct {
	// Filename is the program; without a "/" it is searched in PATH from
	// Envv, as a shell would.
	Filename   string
	Argv, Envv []string
	// Root and WorkingDirectory are the process's file system view.
	Root, WorkingDirectory vfs.VirtualDentry
	Credentials            *auth.Credentials
	Umask                  uint32
	// FDTable holds the process's initial files (stdio).
	FDTable *vfs.FDTable
	// PIDNamespace is where the process lives: nil for the root one. The
	// first process created in a namespace is its init.
	PIDNamespace *PIDNamespace
}

// CreateProcess loads and creates (but does not start) a process with no
// parent in the sandbox: the container's first process (the PID
// namespace's init) or one that `runsc exec` adds. Its owner learns of
// its end through its thread group's ExternalExit.
func (k *Kernel) CreateProcess(args *CreateProcessArgs) (*Task, error) {
	ctx := vfsCtx{ctx: backgroundContext(args.Credentials), creds: args.Credentials, root: args.Root, cwd: args.WorkingDirectory}
	filename, err := k.lookPath(ctx, args.Filename, args.Envv)
	if err != nil {
		return nil, err
	}
	img, err := k.loadImage(ctx, filename, args.Argv, args.Envv, defaultStackLimit, k.Host.Randomize)
	if err != nil {
		return nil, err
	}
	pidns := args.PIDNamespace
	if pidns == nil {
		pidns = k.rootPIDNS
	}
	k.tasksMu.Lock()
	t, err := k.newTaskLocked(&taskConfig{
		handlers:   NewSignalHandlers(),
		exitSignal: linux.SIGCHLD,
		pidns:      pidns,
		ac:         img.ac,
		mm:         img.mm,
	})
	k.tasksMu.Unlock()
	if err != nil {
		img.mm.DecUsers()
		return nil, err
	}
	t.creds = args.Credentials
	t.fdTable = args.FDTable
	t.fsContext = NewFSContext(args.Root, args.WorkingDirectory, args.Umask)
	t.image = img.result
	t.exe = img.exe
	if err := t.initPlatformState(); err != nil {
		return nil, err
	}
	return t, nil
}

// initPlatformState gives t its execution context and caches its address
// space for Switch.
func (t *Task) initPlatformState() error {
	if t.pc == nil {
		pc, err := t.k.Platform.NewContext()
		if err != nil {
			return err
		}
		t.pc = pc
	}
	as, err := t.mm.AddressSpace()
	if err != nil {
		return err
	}
	t.as = as
	return nil
}

// lookPath resolves a program name without a slash through PATH.
func (k *Kernel) lookPath(ctx vfsCtx, name string, envv []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range envv {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		candidate := dir + "/" + name
		pop := &vfs.PathOperation{Root: ctx.root, Start: ctx.cwd, Path: candidate, FollowFinalSymlink: true}
		if err := k.VFS.AccessAt(ctx.ctx, ctx.creds, pop, auth.MayExec); err == nil {
			return candidate, nil
		}
	}
	return "", linux.ENOENT
}

// Execve replaces t's program (execve(2)). On success the caller must
// not touch t's old registers: they are replaced.
func (t *Task) Execve(filename string, argv, envv []string) error {
	root := t.fsContext.RootDirectory()
	defer root.DecRef()
	cwd := t.fsContext.WorkingDirectory()
	defer cwd.DecRef()
	randomize := t.k.Host.Randomize && t.Personality()&linux.ADDR_NO_RANDOMIZE == 0
	img, err := t.k.loadImage(vfsCtx{ctx: t.Context(), creds: t.Credentials(), root: root, cwd: cwd}, filename, argv, envv,
		t.RLimit(linux.RLIMIT_STACK).Cur, randomize)
	if err != nil {
		return err
	}

	// Past the point of no return: the old program is gone whatever
	// happens next.
	oldTID := t.ptraceExecTID()
	t.killOtherThreads()
	t.accountMaxRSS()
	t.mu.Lock()
	old, oldExe := t.mm, t.exe
	t.mm = img.mm
	t.ac = img.ac
	t.image = img.result
	t.exe = img.exe
	t.mu.Unlock()
	old.DecUsers()
	t.k.aioDropReleased() // AIO: exec drops the old address space's contexts (aio.go)
	if oldExe.Ok() {
		oldExe.DecRef()
	}
	if err := t.initPlatformState(); err != nil {
		t.ExitGroup(linux.WaitStatusSignaled(linux.SIGKILL, false))
		return errNoReturnValue
	}
	t.fdTable.RemoveCloseOnExec(t.Context())
	t.tg.handlers = t.tg.handlers.ResetForExec()
	t.altStack = linux.SignalStack{Flags: linux.SS_DISABLE}
	t.clearChildTID = 0
	t.rseqExec() // RSEQ: the new program registers its own (task_rseq.go)
	t.ExecResetTimers()
	t.releaseVforkParent()
	t.ptraceExec(oldTID)
	return errNoReturnValue
}

// killOtherThreads ends every other thread of t's group and waits for
// them to go, as execve requires.
func (t *Task) killOtherThreads() {
	k := t.k
	for {
		k.tasksMu.Lock()
		tg := t.tg
		tg.signalMu.Lock()
		others := 0
		for other := range tg.tasks {
			if other != t {
				other.killed = true
				other.interrupt()
				others++
			}
		}
		tg.signalMu.Unlock()
		ch := tg.childEvent
		if others == 0 {
			if tg.leader != t {
				t.takeOverLeaderLocked()
			}
			k.tasksMu.Unlock()
			return
		}
		k.tasksMu.Unlock()
		// Exiting threads do not signal childEvent; poll briefly.
		select {
		case <-ch:
		case <-afterShort():
		}
	}
}

// backgroundContext is the context of kernel work done for no task yet
// (creating the first process).
func backgroundContext(creds *auth.Credentials) context.Context {
	return auth.ContextWithCredentials(context.Background(), creds)
}

func afterShort() <-chan time.Time { return time.After(time.Millisecond) }

// takeOverLeaderLocked makes t, a non-leader thread that is the last of
// its group, the group's leader, as execve from a thread does on Linux:
// t takes the old leader's TID in every namespace, and the old leader,
// already dead, is released. Requires tasksMu held for writing.
func (t *Task) takeOverLeaderLocked() {
	tg := t.tg
	old := tg.leader
	for ns := tg.pidns; ns != nil; ns = ns.parent {
		leaderID, mine := ns.tids[old], ns.tids[t]
		delete(ns.tasks, mine)
		delete(ns.tids, old)
		ns.tasks[leaderID] = t
		ns.tids[t] = leaderID
	}
	t.parent = old.parent
	if t.parent != nil {
		delete(t.parent.children, old)
		t.parent.children[t] = true
	}
	for child := range old.children {
		child.parent = t
		t.children[child] = true
	}
	old.children = map[*Task]bool{}
	tg.leader = t
	t.k.taskReapedLocked()
}
