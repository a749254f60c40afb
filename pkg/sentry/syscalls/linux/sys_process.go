package linux

import (
	"bytes"
	"encoding/binary"
	"strings"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Getpid implements getpid(2).
func Getpid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadGroup().ID()), nil
}

// Gettid implements gettid(2).
func Gettid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadID()), nil
}

// Getppid implements getppid(2).
func Getppid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ParentThreadGroupID()), nil
}

// processOf returns the process of the task with ID pid (0: the caller),
// or ESRCH, for getpgid and getsid, which accept any thread's ID.
func processOf(t *kernel.Task, pid int32) (*kernel.ThreadGroup, error) {
	if pid == 0 {
		return t.ThreadGroup(), nil
	}
	target := t.LookupTask(kernel.ThreadID(pid))
	if target == nil {
		return nil, abilinux.ESRCH
	}
	return target.ThreadGroup(), nil
}

// Getpgid implements getpgid(2).
func Getpgid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	tg, err := processOf(t, args[0].Int())
	if err != nil {
		return 0, err
	}
	return uintptr(t.ProcessGroupIDOf(tg)), nil
}

// Getpgrp implements getpgrp(2).
func Getpgrp(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ProcessGroupIDOf(t.ThreadGroup())), nil
}

// Getsid implements getsid(2).
func Getsid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	tg, err := processOf(t, args[0].Int())
	if err != nil {
		return 0, err
	}
	return uintptr(t.SessionIDOf(tg)), nil
}

// Setpgid implements setpgid(2).
func Setpgid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetProcessGroup(kernel.ThreadID(args[0].Int()), kernel.ThreadID(args[1].Int()))
}

// Setsid implements setsid(2).
func Setsid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	sid, err := t.CreateSession()
	return uintptr(sid), err
}

// SetTidAddress implements set_tid_address(2).
func SetTidAddress(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	t.SetClearChildTID(args[0].Pointer())
	return uintptr(t.ThreadID()), nil
}

// SetRobustList implements set_robust_list(2). The list is walked at
// exit by the futex code.
func SetRobustList(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	if args[1].SizeT() != abilinux.SizeofRobustListHead {
		return 0, abilinux.EINVAL
	}
	t.SetRobustList(args[0].Pointer())
	return 0, nil
}

// GetRobustList implements get_robust_list(2).
func GetRobustList(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid := args[0].Int()
	target := t
	if pid != 0 {
		target = t.LookupTask(kernel.ThreadID(pid))
		if target == nil {
			return 0, abilinux.ESRCH
		}
		if !mayReadTask(t, target) {
			return 0, abilinux.EPERM
		}
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(target.RobustList()))
	if _, err := t.CopyOut(args[1].Pointer(), b[:]); err != nil {
		return 0, abilinux.EFAULT
	}
	binary.LittleEndian.PutUint64(b[:], abilinux.SizeofRobustListHead)
	if _, err := t.CopyOut(args[2].Pointer(), b[:]); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// mayReadTask is ptrace's PTRACE_MODE_READ_REALCREDS check, which
// get_robust_list applies to other processes: same process; or the
// caller's real UID and GID equal every UID and GID of a dumpable target;
// or CAP_SYS_PTRACE over the target's user namespace.
func mayReadTask(t, target *kernel.Task) bool {
	if t.ThreadGroup() == target.ThreadGroup() {
		return true
	}
	c, tc := t.Credentials(), target.Credentials()
	if c == nil || tc == nil {
		return true
	}
	if c.HasCapabilityIn(abilinux.CAP_SYS_PTRACE, tc.UserNamespace) {
		return true
	}
	sameIDs := c.UserNamespace == tc.UserNamespace &&
		c.RealKUID == tc.RealKUID && c.RealKUID == tc.EffectiveKUID && c.RealKUID == tc.SavedKUID &&
		c.RealKGID == tc.RealKGID && c.RealKGID == tc.EffectiveKGID && c.RealKGID == tc.SavedKGID
	return sameIDs && target.ThreadGroup().Dumpable() == abilinux.SUID_DUMP_USER
}

// Exit implements exit(2): only the calling thread ends.
func Exit(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.Exit(abilinux.WaitStatusExit(int(args[0].Int())))
}

// ExitGroup implements exit_group(2).
func ExitGroup(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	t.ExitGroup(abilinux.WaitStatusExit(int(args[0].Int())))
	return 0, kernel.ErrNoReturnValue
}

// secbitKeepCaps is SECBIT_KEEP_CAPS (1 << SECURE_KEEP_CAPS).
const secbitKeepCaps = 1 << 4

// Prctl implements prctl(2) for the options a container's programs use;
// the others are EINVAL, as for an option the kernel does not know.
func Prctl(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	option := args[0].Int()
	arg2 := args[1].Uint64()
	switch option {
	case abilinux.PR_SET_NAME:
		name, err := copyInComm(t, args[1].Pointer())
		if err != nil {
			return 0, err
		}
		t.SetName(name)
		return 0, nil

	case abilinux.PR_GET_NAME:
		var buf [16]byte
		copy(buf[:15], t.Name())
		if _, err := t.CopyOut(args[1].Pointer(), buf[:]); err != nil {
			return 0, abilinux.EFAULT
		}
		return 0, nil

	case abilinux.PR_SET_PDEATHSIG:
		sig := abilinux.Signal(arg2)
		if arg2 > abilinux.NumSignals {
			return 0, abilinux.EINVAL
		}
		return 0, t.SetParentDeathSignal(sig)

	case abilinux.PR_GET_PDEATHSIG:
		return 0, putInt32(t, args[1].Pointer(), int32(t.ParentDeathSignal()))

	case abilinux.PR_GET_DUMPABLE:
		return uintptr(t.ThreadGroup().Dumpable()), nil

	case abilinux.PR_SET_DUMPABLE:
		if arg2 > abilinux.SUID_DUMP_USER {
			return 0, abilinux.EINVAL
		}
		return 0, t.ThreadGroup().SetDumpable(int32(arg2))

	case abilinux.PR_SET_NO_NEW_PRIVS:
		if arg2 != 1 || args[2].Uint64()|args[3].Uint64()|args[4].Uint64() != 0 {
			return 0, abilinux.EINVAL
		}
		t.SetNoNewPrivs()
		return 0, nil

	case abilinux.PR_GET_NO_NEW_PRIVS:
		if arg2|args[2].Uint64()|args[3].Uint64()|args[4].Uint64() != 0 {
			return 0, abilinux.EINVAL
		}
		if t.NoNewPrivs() {
			return 1, nil
		}
		return 0, nil

	case abilinux.PR_SET_CHILD_SUBREAPER:
		t.ThreadGroup().SetChildSubreaper(arg2 != 0)
		return 0, nil

	case abilinux.PR_GET_CHILD_SUBREAPER:
		v := int32(0)
		if t.ThreadGroup().ChildSubreaper() {
			v = 1
		}
		return 0, putInt32(t, args[1].Pointer(), v)

	case abilinux.PR_CAPBSET_READ:
		cp := abilinux.Capability(arg2)
		if arg2 > uint64(abilinux.CAP_LAST_CAP) || !cp.Ok() {
			return 0, abilinux.EINVAL
		}
		if c := t.Credentials(); c != nil && c.BoundingCaps.Has(cp) {
			return 1, nil
		}
		return 0, nil

	case abilinux.PR_GET_KEEPCAPS:
		if c := t.Credentials(); c != nil && c.KeepCaps {
			return 1, nil
		}
		return 0, nil

	case abilinux.PR_SET_KEEPCAPS:
		if args[1].Uint64() > 1 {
			return 0, abilinux.EINVAL
		}
		c := t.Credentials().Fork()
		c.KeepCaps = args[1].Uint64() == 1
		t.SetCredentials(c)
		return 0, nil

	case abilinux.PR_GET_SECUREBITS:
		c := t.Credentials()
		if c == nil {
			return 0, nil
		}
		bits := c.SecureBits
		if c.KeepCaps {
			bits |= secbitKeepCaps
		}
		return uintptr(bits), nil

	case abilinux.PR_GET_SECCOMP:
		return uintptr(t.SeccompMode()), nil

	case abilinux.PR_SET_SECCOMP:
		return prctlSetSeccomp(t, sysno, arg2, args[2].Pointer())
	}
	t.RecordUnsupported(kernel.CompatPrctl, uint64(option), "")
	return 0, abilinux.EINVAL
}

// copyInComm reads PR_SET_NAME's argument as Linux does: at most 15
// bytes, up to a NUL, which need not be there.
func copyInComm(t *kernel.Task, addr uintptr) (string, error) {
	var buf [15]byte
	n, err := t.CopyIn(addr, buf[:])
	if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
		return string(buf[:i]), nil
	}
	if err != nil {
		return "", abilinux.EFAULT
	}
	return string(buf[:n]), nil
}

// putInt32 stores an int result through a pointer argument.
func putInt32(t *kernel.Task, addr uintptr, v int32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return abilinux.EFAULT
	}
	return nil
}

// Clone implements clone(2); the argument order is per architecture
// (cloneArgs).
func Clone(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags, stack, parentTID, childTID, tls := cloneArgs(args)
	opts := &kernel.CloneOptions{
		Flags:      flags &^ abilinux.CSIGNAL,
		ExitSignal: abilinux.Signal(flags & abilinux.CSIGNAL),
		Stack:      stack,
		ParentTID:  parentTID,
		ChildTID:   childTID,
		TLS:        tls,
	}
	if flags&abilinux.CLONE_PIDFD != 0 {
		// clone(2) stores the pidfd where the parent's TID would go.
		if flags&abilinux.CLONE_PARENT_SETTID != 0 {
			return 0, abilinux.EINVAL
		}
		opts.PidFD = parentTID
	}
	return doClone(t, opts)
}

// doClone creates the child and gives it the attributes clone copies.
func doClone(t *kernel.Task, opts *kernel.CloneOptions) (uintptr, error) {
	tid, err := t.Clone(opts)
	if err != nil {
		return 0, err
	}
	// A vfork child may already have exited and been reaped; a child that
	// exec'd has its own attributes already and keeps them.
	if child := t.LookupTask(tid); child != nil {
		t.InheritAttrs(child, opts.Flags)
	}
	return uintptr(tid), nil
}

// Fork implements fork(2).
func Fork(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return doClone(t, &kernel.CloneOptions{ExitSignal: abilinux.SIGCHLD})
}

// Vfork implements vfork(2).
func Vfork(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return doClone(t, &kernel.CloneOptions{Flags: abilinux.CLONE_VM | abilinux.CLONE_VFORK, ExitSignal: abilinux.SIGCHLD})
}

// clone3Flags are the flags clone3 accepts at all (CLONE_LEGACY_FLAGS and
// the two clone3-only flags); CSIGNAL's bits and CLONE_DETACHED are not
// among them.
const clone3Flags = (0xffffffff &^ (abilinux.CSIGNAL | abilinux.CLONE_DETACHED)) |
	abilinux.CLONE_NEWTIME | abilinux.CLONE_CLEAR_SIGHAND | abilinux.CLONE_INTO_CGROUP

// Clone3 implements clone3(2).
func Clone3(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	ca, err := copyInCloneArgs(t, args[0].Pointer(), args[1].SizeT())
	if err != nil {
		return 0, err
	}
	opts, err := cloneOptionsFromArgs(ca)
	if err != nil {
		return 0, err
	}
	return doClone(t, opts)
}

// copyInCloneArgs reads a struct clone_args of the caller's size as
// copy_struct_from_user does: a size below the first version is EINVAL,
// above a page E2BIG; a shorter struct reads as zero-extended, and a
// longer one is E2BIG unless every byte this kernel does not know is
// zero.
func copyInCloneArgs(t *kernel.Task, addr uintptr, size uint) (*abilinux.CloneArgs, error) {
	if size > abilinux.PageSize {
		return nil, abilinux.E2BIG
	}
	if size < abilinux.CLONE_ARGS_SIZE_VER0 {
		return nil, abilinux.EINVAL
	}
	buf := make([]byte, max(size, abilinux.CLONE_ARGS_SIZE_VER2))
	if _, err := t.CopyIn(addr, buf[:size]); err != nil {
		return nil, abilinux.EFAULT
	}
	for _, b := range buf[abilinux.CLONE_ARGS_SIZE_VER2:] {
		if b != 0 {
			return nil, abilinux.E2BIG
		}
	}
	ca := new(abilinux.CloneArgs)
	ca.UnmarshalBytes(buf)
	if ca.Flags&abilinux.CLONE_INTO_CGROUP != 0 && size < abilinux.CLONE_ARGS_SIZE_VER2 {
		return nil, abilinux.EINVAL
	}
	return ca, nil
}

// cloneOptionsFromArgs applies clone3's argument checks (all EINVAL) and
// converts its arguments.
func cloneOptionsFromArgs(ca *abilinux.CloneArgs) (*kernel.CloneOptions, error) {
	const maxPIDNSLevel = 32
	if ca.SetTIDSize > maxPIDNSLevel || (ca.SetTID == 0) != (ca.SetTIDSize == 0) {
		return nil, abilinux.EINVAL
	}
	if ca.ExitSignal&^abilinux.CSIGNAL != 0 || ca.ExitSignal > abilinux.NumSignals {
		return nil, abilinux.EINVAL
	}
	if ca.Flags&abilinux.CLONE_INTO_CGROUP != 0 && ca.Cgroup > 1<<31-1 {
		return nil, abilinux.EINVAL
	}
	if ca.Flags&^clone3Flags != 0 {
		return nil, abilinux.EINVAL
	}
	if ca.Flags&(abilinux.CLONE_SIGHAND|abilinux.CLONE_CLEAR_SIGHAND) == abilinux.CLONE_SIGHAND|abilinux.CLONE_CLEAR_SIGHAND {
		return nil, abilinux.EINVAL
	}
	if ca.Flags&(abilinux.CLONE_THREAD|abilinux.CLONE_PARENT) != 0 && ca.ExitSignal != 0 {
		return nil, abilinux.EINVAL
	}
	// The stack is given as a region; the stack pointer starts at its top
	// (both architectures' stacks grow down).
	if (ca.Stack == 0) != (ca.StackSize == 0) || ca.Stack+ca.StackSize < ca.Stack {
		return nil, abilinux.EINVAL
	}
	if ca.SetTIDSize != 0 {
		// Choosing the child's PIDs (for checkpoint/restore tools) is not
		// supported by the PID allocator.
		return nil, abilinux.EINVAL
	}
	return &kernel.CloneOptions{
		Flags:      ca.Flags,
		ExitSignal: abilinux.Signal(ca.ExitSignal),
		Stack:      uintptr(ca.Stack + ca.StackSize),
		ParentTID:  uintptr(ca.ParentTID),
		ChildTID:   uintptr(ca.ChildTID),
		TLS:        uintptr(ca.TLS),
		PidFD:      uintptr(ca.Pidfd),
	}, nil
}

// execArgSpace is the space argv and envp strings and pointers may take:
// Linux allows a quarter of RLIMIT_STACK (bprm_stack_limits), and the
// kernel has no rlimits yet, so this is a quarter of the default 8 MiB.
const execArgSpace = 8 << 20 / 4

// Execve implements execve(2).
func Execve(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	filename, err := t.MemoryManager().CopyInString(args[0].Pointer(), abilinux.PATH_MAX)
	if err != nil {
		return 0, err
	}
	if filename == "" {
		return 0, abilinux.ENOENT
	}
	return doExecve(t, filename, args[1].Pointer(), args[2].Pointer())
}

// doExecve copies the argument vectors and replaces the program.
func doExecve(t *kernel.Task, filename string, argvAddr, envvAddr uintptr) (uintptr, error) {
	argv, envv, err := copyInExecArgs(t, argvAddr, envvAddr)
	if err != nil {
		return 0, err
	}
	err = t.Execve(filename, argv, envv)
	if err == kernel.ErrNoReturnValue {
		// The old program is gone (the new one runs, or the process is
		// being killed).
		t.ResetAttrsForExec()
	}
	return 0, err
}

// Execveat implements execveat(2).
//
// The kernel's Execve resolves a path from the working directory, so a
// dirfd-relative path or an AT_EMPTY_PATH descriptor is turned into the
// absolute path of the directory or file first. That is racy against a
// concurrent rename, and fails with ENOENT for a file that was unlinked
// or lies outside the caller's root, where Linux would run it.
func Execveat(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	dirfd := args[0].Int()
	flags := args[4].Int()
	if flags&^(abilinux.AT_EMPTY_PATH|abilinux.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, abilinux.EINVAL
	}
	path, err := t.MemoryManager().CopyInString(args[1].Pointer(), abilinux.PATH_MAX)
	if err != nil {
		return 0, err
	}
	filename, err := resolveExecveatPath(t, dirfd, path, flags)
	if err != nil {
		return 0, err
	}
	return doExecve(t, filename, args[2].Pointer(), args[3].Pointer())
}

// resolveExecveatPath returns the path Execve should run for execveat's
// dirfd, path and flags, applying AT_SYMLINK_NOFOLLOW (ELOOP when the
// final component is a symlink).
func resolveExecveatPath(t *kernel.Task, dirfd int32, path string, flags int32) (string, error) {
	if path == "" && flags&abilinux.AT_EMPTY_PATH == 0 {
		return "", abilinux.ENOENT
	}
	fsc := t.FSContext()
	root := fsc.RootDirectory()
	defer root.DecRef()
	vfsObj := t.Kernel().VFS

	pop := &vfs.PathOperation{Root: root, Path: path, AllowEmptyPath: true}
	name := path
	if path == "" || (path[0] != '/' && dirfd != abilinux.AT_FDCWD) {
		file, err := t.GetFile(dirfd)
		if err != nil {
			return "", err
		}
		defer file.DecRef(t.Context())
		pop.Start = file.VirtualDentry()
		base, err := vfsObj.PathnameForGetcwd(root, pop.Start)
		if err != nil || !strings.HasPrefix(base, "/") {
			return "", abilinux.ENOENT
		}
		name = base
		if path != "" {
			name = strings.TrimSuffix(base, "/") + "/" + path
		}
	} else {
		cwd := fsc.WorkingDirectory()
		defer cwd.DecRef()
		pop.Start = cwd
	}
	if flags&abilinux.AT_SYMLINK_NOFOLLOW != 0 {
		st, err := vfsObj.StatAt(t.Context(), t.Credentials(), pop, vfs.StatOptions{Mask: abilinux.STATX_TYPE})
		if err != nil {
			return "", err
		}
		if uint32(st.Mode)&abilinux.S_IFMT == abilinux.S_IFLNK {
			return "", abilinux.ELOOP
		}
	}
	return name, nil
}

// copyInExecArgs reads execve's argv and envp with Linux's limits: at
// most MAX_ARG_STRINGS pointers, MAX_ARG_STRLEN bytes per string (NUL
// included), and execArgSpace for everything; beyond them E2BIG. An empty
// argv gets "" as argv[0], as Linux adds.
func copyInExecArgs(t *kernel.Task, argvAddr, envvAddr uintptr) ([]string, []string, error) {
	argvPtrs, err := copyInPointerArray(t, argvAddr)
	if err != nil {
		return nil, nil, err
	}
	envvPtrs, err := copyInPointerArray(t, envvAddr)
	if err != nil {
		return nil, nil, err
	}
	space := execArgSpace - 8*(max(len(argvPtrs), 1)+len(envvPtrs))
	if space <= 0 {
		return nil, nil, abilinux.E2BIG
	}
	envv, err := copyInArgStrings(t, envvPtrs, &space)
	if err != nil {
		return nil, nil, err
	}
	argv, err := copyInArgStrings(t, argvPtrs, &space)
	if err != nil {
		return nil, nil, err
	}
	if len(argv) == 0 {
		argv = []string{""}
	}
	return argv, envv, nil
}

// copyInPointerArray reads a NULL-terminated array of user pointers; a
// NULL array is empty. Arrays whose pointers alone exceed execArgSpace
// are E2BIG without being read further (Linux reads up to
// MAX_ARG_STRINGS of them and then fails the same way).
func copyInPointerArray(t *kernel.Task, addr uintptr) ([]uintptr, error) {
	if addr == 0 {
		return nil, nil
	}
	var ptrs []uintptr
	var buf [64 * 8]byte
	for {
		if len(ptrs) >= abilinux.MAX_ARG_STRINGS || 8*len(ptrs) >= execArgSpace {
			return nil, abilinux.E2BIG
		}
		n, err := t.CopyIn(addr, buf[:])
		for i := 0; i+8 <= n; i += 8 {
			p := uintptr(binary.LittleEndian.Uint64(buf[i:]))
			if p == 0 {
				return ptrs, nil
			}
			ptrs = append(ptrs, p)
		}
		if err != nil || n < len(buf) {
			return nil, abilinux.EFAULT
		}
		addr += uintptr(len(buf))
	}
}

// copyInArgStrings reads the strings at ptrs, charging each (with its
// NUL) to *space.
func copyInArgStrings(t *kernel.Task, ptrs []uintptr, space *int) ([]string, error) {
	strs := make([]string, 0, len(ptrs))
	for _, p := range ptrs {
		s, err := t.MemoryManager().CopyInString(p, abilinux.MAX_ARG_STRLEN)
		if err == abilinux.ENAMETOOLONG {
			return nil, abilinux.E2BIG
		}
		if err != nil {
			return nil, abilinux.EFAULT
		}
		*space -= len(s) + 1
		if *space < 0 {
			return nil, abilinux.E2BIG
		}
		strs = append(strs, s)
	}
	return strs, nil
}

// waitUsage converts a child's accounting to struct rusage.
func waitUsage(u kernel.Usage) abilinux.Rusage {
	return abilinux.Rusage{
		UTime:  abilinux.NsecToTimeval(u.User.Nanoseconds()),
		STime:  abilinux.NsecToTimeval(u.System.Nanoseconds()),
		MaxRSS: u.MaxRSS,
	}
}

// Wait4 implements wait4(2).
func Wait4(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid := args[0].Int()
	statusAddr := args[1].Pointer()
	// Unsigned: __WCLONE is bit 31, which a sign extension would spread
	// into bits that fail the check below.
	options := int(args[2].Uint())
	rusageAddr := args[3].Pointer()
	if options&^(abilinux.WNOHANG|abilinux.WUNTRACED|abilinux.WCONTINUED|abilinux.WNOTHREAD|abilinux.WCLONE|abilinux.WALL) != 0 {
		return 0, abilinux.EINVAL
	}
	opts := kernel.WaitOptions{
		Events: abilinux.WEXITED | options&(abilinux.WUNTRACED|abilinux.WCONTINUED),
		Flags:  options & (abilinux.WNOHANG | abilinux.WNOTHREAD | abilinux.WCLONE | abilinux.WALL),
	}
	switch {
	case pid == -1<<31:
		return 0, abilinux.ESRCH
	case pid > 0:
		opts.PID = kernel.ThreadID(pid)
	case pid == 0:
		opts.PGID = t.ThreadGroup().ProcessGroupRootID()
	case pid < -1:
		opts.PGID = t.ProcessGroupToRootID(kernel.ThreadID(-pid))
		if opts.PGID == 0 {
			return 0, abilinux.ECHILD
		}
	}
	res, err := t.Wait(opts)
	if err != nil || res == nil {
		return 0, err
	}
	if statusAddr != 0 {
		if err := putInt32(t, statusAddr, int32(res.Status)); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 {
		ru := waitUsage(res.Usage)
		if err := t.MemoryManager().CopyObjectOut(rusageAddr, &ru); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return uintptr(res.PID), nil
}

// Waitid implements waitid(2).
func Waitid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	infoAddr := args[2].Pointer()
	rusageAddr := args[4].Pointer()
	res, err := waitid(t, args[0].Int(), args[1].Int(), int(args[3].Uint())) // Uint: __WCLONE is bit 31
	if err == nil && res != nil && rusageAddr != 0 {
		ru := waitUsage(res.Usage)
		if err := t.MemoryManager().CopyObjectOut(rusageAddr, &ru); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	if infoAddr == 0 {
		return 0, err
	}
	// Linux writes these fields whatever the outcome, zeros when no child
	// was reported (WNOHANG with nothing ready, or an error); the rest of
	// the siginfo is left alone.
	var head, body [12]byte
	if res != nil {
		binary.LittleEndian.PutUint32(head[0:], uint32(abilinux.SIGCHLD))
		binary.LittleEndian.PutUint32(head[8:], uint32(res.Code))
		binary.LittleEndian.PutUint32(body[0:], uint32(res.PID))
		binary.LittleEndian.PutUint32(body[4:], res.UID)
		binary.LittleEndian.PutUint32(body[8:], uint32(res.CodeStatus))
	}
	if _, cerr := t.CopyOut(infoAddr, head[:]); cerr != nil {
		return 0, abilinux.EFAULT
	}
	if _, cerr := t.CopyOut(infoAddr+16, body[:]); cerr != nil {
		return 0, abilinux.EFAULT
	}
	return 0, err
}

// waitid decodes waitid's selection and waits.
func waitid(t *kernel.Task, which, id int32, options int) (*kernel.WaitResult, error) {
	if options&^(abilinux.WNOHANG|abilinux.WNOWAIT|abilinux.WEXITED|abilinux.WSTOPPED|abilinux.WCONTINUED|
		abilinux.WNOTHREAD|abilinux.WCLONE|abilinux.WALL) != 0 {
		return nil, abilinux.EINVAL
	}
	if options&(abilinux.WEXITED|abilinux.WSTOPPED|abilinux.WCONTINUED) == 0 {
		return nil, abilinux.EINVAL
	}
	opts := kernel.WaitOptions{
		Events: options & (abilinux.WEXITED | abilinux.WSTOPPED | abilinux.WCONTINUED),
		Flags:  options & (abilinux.WNOHANG | abilinux.WNOWAIT | abilinux.WNOTHREAD | abilinux.WCLONE | abilinux.WALL),
	}
	switch which {
	case abilinux.P_ALL:
	case abilinux.P_PID:
		if id <= 0 {
			return nil, abilinux.EINVAL
		}
		opts.PID = kernel.ThreadID(id)
	case abilinux.P_PGID:
		if id < 0 {
			return nil, abilinux.EINVAL
		}
		if id == 0 {
			opts.PGID = t.ThreadGroup().ProcessGroupRootID()
		} else if opts.PGID = t.ProcessGroupToRootID(kernel.ThreadID(id)); opts.PGID == 0 {
			return nil, abilinux.ECHILD
		}
	case abilinux.P_PIDFD:
		// The pidfd's process, which must be a child; PIDFD_NONBLOCK
		// makes the wait WNOHANG (sys_pidfd.go).
		pid, nonblock, err := pidfdWaitTarget(t, id)
		if err != nil {
			return nil, err
		}
		opts.PID = pid
		if nonblock && opts.Flags&abilinux.WNOHANG == 0 {
			// Nothing to report is EAGAIN rather than WNOHANG's 0.
			opts.Flags |= abilinux.WNOHANG
			res, err := t.Wait(opts)
			if res == nil && err == nil {
				return nil, abilinux.EAGAIN
			}
			return res, err
		}
	default:
		return nil, abilinux.EINVAL
	}
	return t.Wait(opts)
}
