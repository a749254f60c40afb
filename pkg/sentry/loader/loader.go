package loader

import (
	"encoding/binary"
	"io"
	"path"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Layout is where the caller's memory manager wants things.
type Layout struct {
	// StackTop is the page-aligned end of the stack mapping. The memory
	// manager chooses it (randomised or not) because it places the mmap
	// base relative to it.
	StackTop uintptr
	// StackLimit is RLIMIT_STACK's soft limit in bytes (^0 for
	// unlimited). It bounds the argument strings (E2BIG) and the
	// initial stack mapping.
	StackLimit uint64
	// TaskSize is the end of user space; 0 means Linux's default for the
	// host (47 bits on amd64, 48 on arm64).
	TaskSize uintptr
	// Randomize turns on address space layout randomisation of the PIE
	// load bias, the program break and the stack below the strings. It
	// is false under personality(ADDR_NO_RANDOMIZE), for reproducible
	// runs.
	Randomize bool
}

// Creds are the credentials reported in the auxiliary vector.
type Creds struct {
	UID, EUID, GID, EGID uint32
	// Secure is AT_SECURE: set for set-user-ID or set-group-ID execs and
	// capability gains, telling the C library to ignore LD_* variables.
	Secure bool
}

// LoadArgs is one execve.
type LoadArgs struct {
	// File is the opened executable, already access checked.
	File File
	// Filename is the path passed to execve (or /dev/fd/N for
	// execveat with a file descriptor). It becomes AT_EXECFN and, for a
	// script, the script's argument to its interpreter.
	Filename string
	// Argv and Envv are the new program's arguments and environment.
	Argv, Envv []string

	Opener Opener
	Mapper Mapper
	Layout Layout
	// Rand supplies AT_RANDOM's 16 bytes (always) and, when
	// Layout.Randomize is set, the layout randomisation.
	Rand io.Reader

	Creds Creds
	// HWCap and HWCap2 are the host's AT_HWCAP and AT_HWCAP2, which
	// describe CPU features the program may use.
	HWCap, HWCap2 uint64
	// MinSigStackSize is AT_MINSIGSTKSZ, the signal frame size the
	// kernel will use on this machine; 0 means the architecture's
	// MINSIGSTKSZ.
	MinSigStackSize uint64
	// RseqFeatureSize, when not 0, is announced as AT_RSEQ_FEATURE_SIZE
	// (28 on current Linux) along with AT_RSEQ_ALIGN 32; leave it 0 when
	// rseq(2) is not supported.
	RseqFeatureSize uint64
	// VDSO, when not nil, is a prebuilt vDSO image to map and announce
	// with AT_SYSINFO_EHDR. Nothing provides one yet.
	VDSO File
}

// rseqAlign is __alignof__(struct rseq).
const rseqAlign = 32

// InitialRegs are the register values a new program starts with; Apply
// (per architecture) writes them into a register set.
type InitialRegs struct {
	PC, SP uint64
}

// Result is what the kernel needs after a successful load.
type Result struct {
	Regs InitialRegs
	// Exe is the file that was finally mapped as the program (a script's
	// interpreter, not the script) and ExePath the path it was opened by,
	// for /proc/pid/exe.
	Exe     File
	ExePath string
	// Argv is the argument vector as the program sees it, after "#!"
	// rewriting.
	Argv []string
	// Comm is the new task name: the base name of Filename, at most 15
	// bytes.
	Comm string
	// ArgvStart..ArgvEnd and EnvvStart..EnvvEnd hold the strings that
	// /proc/pid/cmdline and /proc/pid/environ read.
	ArgvStart, ArgvEnd, EnvvStart, EnvvEnd uint64
	// StackStart is the address of argc (mm->start_stack).
	StackStart uint64
	// Auxv is the auxiliary vector, AT_NULL included (/proc/pid/auxv).
	Auxv []linux.AuxEntry
	// Entry is the program's own entry point (AT_ENTRY), Base the
	// interpreter's load address (AT_BASE, 0 without one).
	Entry, Base uint64
	// BrkStart is the initial program break.
	BrkStart uint64
	// ExecStack reports PT_GNU_STACK's PF_X: the stack was mapped
	// executable.
	ExecStack bool
	// VDSOBase is where the vDSO was mapped, 0 without one.
	VDSOBase uint64
}

// AuxvBytes encodes Auxv as /proc/pid/auxv shows it.
func (r *Result) AuxvBytes() []byte {
	b := make([]byte, 16*len(r.Auxv))
	for i := range r.Auxv {
		r.Auxv[i].MarshalBytes(b[16*i:])
	}
	return b
}

// initialStackExpand is Linux's stack_expand: how far below the argument
// pages the initial stack mapping reaches, before any fault grows it.
const initialStackExpand = 128 << 10

// Load performs execve's loading into args.Mapper's fresh address space.
func Load(args *LoadArgs) (*Result, error) {
	return load(args, hostArch)
}

func load(args *LoadArgs, arch *archParams) (*Result, error) {
	taskSize := uint64(args.Layout.TaskSize)
	if taskSize == 0 {
		taskSize = arch.taskSize
	}
	argv := args.Argv
	space, err := newArgSpace(args.Layout.StackLimit, len(argv), len(args.Envv))
	if err != nil {
		return nil, err
	}
	if err := space.take(args.Filename); err != nil {
		return nil, err
	}
	for _, s := range args.Envv {
		if err := space.take(s); err != nil {
			return nil, err
		}
	}
	for _, s := range argv {
		if err := space.take(s); err != nil {
			return nil, err
		}
	}
	if len(argv) == 0 {
		// Since Linux 5.18, so that nobody walks from argv[1] into envp.
		argv = []string{""}
		space.take("")
	}

	// Resolve "#!" interpreters until an ELF file is reached.
	file, filePath := args.File, args.Filename
	var img *elfImage
	for depth := 0; ; depth++ {
		if depth > maxInterpDepth {
			return nil, errorf(linux.ELOOP, "too many levels of script interpreters")
		}
		if file.Mode()&linux.S_IFMT != linux.S_IFREG {
			return nil, errorf(linux.EACCES, "%s is not a regular file", filePath)
		}
		var head [scriptBufSize]byte
		n, rerr := file.ReadAt(head[:], 0)
		if n < len(head) && rerr != nil && rerr != io.EOF {
			return nil, rerr
		}
		interp, arg, isScript, err := parseScriptLine(head[:n])
		if err != nil {
			return nil, err
		}
		if !isScript {
			if !isELF(head[:n]) {
				return nil, errorf(linux.ENOEXEC, "%s is neither ELF nor a script", filePath)
			}
			img, err = parseELF(file, arch, taskSize)
			if err != nil {
				return nil, err
			}
			break
		}
		// argv becomes interpreter, optional argument, the script's
		// path as execve got it, then the original argv[1:].
		space.give(argv[0])
		next := make([]string, 0, len(argv)+2)
		next = append(next, interp)
		if arg != "" {
			next = append(next, arg)
		}
		next = append(next, filePath)
		next = append(next, argv[1:]...)
		for _, s := range next[:len(next)-len(argv)+1] {
			if err := space.take(s); err != nil {
				return nil, err
			}
		}
		argv = next
		f, err := args.Opener.Open(interp)
		if err != nil {
			return nil, err
		}
		file, filePath = f, interp
	}

	var interpImg *elfImage
	var interpFile File
	if img.interp != "" {
		f, err := args.Opener.Open(img.interp)
		if err != nil {
			return nil, err
		}
		if f.Mode()&linux.S_IFMT != linux.S_IFREG {
			return nil, errorf(linux.EACCES, "interpreter %s is not a regular file", img.interp)
		}
		interpImg, err = parseELF(f, arch, taskSize)
		if err != nil {
			return nil, remapErrno(err, linux.ENOEXEC, linux.ELIBBAD)
		}
		if interpImg.interp != "" {
			return nil, errorf(linux.ELIBBAD, "interpreter %s names an interpreter itself", img.interp)
		}
		interpFile = f
	}

	rnd := &randSource{r: args.Rand}
	layout := &args.Layout

	// The stack comes first, as in Linux, so that nothing else is placed
	// where it goes.
	auxCount := 20 // the fixed entries below, AT_NULL included
	if args.VDSO != nil {
		auxCount++
	}
	if args.RseqFeatureSize != 0 {
		auxCount += 2
	}
	var alignGap uint64
	if layout.Randomize {
		g, err := rnd.below(arch.stackAlignRandom)
		if err != nil {
			return nil, err
		}
		alignGap = g
	}
	plan := planStack(uint64(layout.StackTop), argv, args.Envv, args.Filename, arch.platform, auxCount, alignGap)
	if err := mapStack(args.Mapper, &plan, layout.StackLimit, img.execStack); err != nil {
		return nil, err
	}

	// The executable. A PIE with an interpreter goes to ELF_ET_DYN_BASE
	// (plus randomisation, aligned to its segments' alignment); one
	// without (a static PIE, or ld.so run directly) goes wherever mmap
	// puts it.
	var place placement
	if img.hdr.Type == linux.ET_DYN && interpImg != nil {
		base := arch.etDynBase(taskSize)
		if layout.Randomize {
			r, err := rnd.mmapRnd(arch.mmapRndBits)
			if err != nil {
				return nil, err
			}
			base += r
		}
		base &^= img.maxAlign - 1
		first, _ := img.span()
		place = placement{fixed: true, bias: pageDown(base - first)}
	}
	exe, err := mapImage(args.Mapper, file, img, place, taskSize)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Exe:       file,
		ExePath:   filePath,
		Argv:      argv,
		Comm:      comm(args.Filename),
		ExecStack: img.execStack,
		Entry:     exe.entry,
	}
	pc := exe.entry
	if interpImg != nil {
		in, err := mapImage(args.Mapper, interpFile, interpImg, placement{}, taskSize)
		if err != nil {
			return nil, remapErrno(err, linux.ENOEXEC, linux.ELIBBAD)
		}
		res.Base = in.bias
		pc = in.entry
	}

	brk, err := chooseBrk(img, exe, interpImg != nil, layout.Randomize, arch, taskSize, rnd)
	if err != nil {
		return nil, err
	}
	args.Mapper.SetBrkStart(uintptr(brk))
	res.BrkStart = brk

	if args.VDSO != nil {
		base, err := mapVDSO(args.Mapper, args.VDSO, arch, taskSize)
		if err != nil {
			return nil, err
		}
		res.VDSOBase = base
	}

	var random [16]byte
	if _, err := io.ReadFull(args.Rand, random[:]); err != nil {
		return nil, err
	}
	res.Auxv = buildAuxv(args, arch, &plan, img, exe, res)
	if len(res.Auxv) != plan.auxCount {
		panic("loader: auxv size differs from the planned one")
	}
	if err := args.Mapper.CopyOut(uintptr(plan.sp), plan.build(res.Auxv, random)); err != nil {
		return nil, err
	}
	res.Regs = InitialRegs{PC: pc, SP: plan.sp}
	res.StackStart = plan.sp
	res.ArgvStart, res.ArgvEnd = plan.argStart, plan.argEnd
	res.EnvvStart, res.EnvvEnd = plan.envStart, plan.envEnd
	return res, nil
}

// mapStack maps the initial stack: the pages the plan uses plus Linux's
// 128 KiB of room, within the stack rlimit.
func mapStack(m Mapper, plan *stackPlan, limit uint64, exec bool) error {
	top := plan.top
	used, _ := pageUp(plan.size())
	if used > top || (limit != ^uint64(0) && used > pageDown(limit)) {
		return errorf(linux.EFAULT, "initial stack of %d bytes does not fit", plan.size())
	}
	size := used + initialStackExpand
	if limit != ^uint64(0) && size > pageDown(limit) {
		size = pageDown(limit)
	}
	size = min(size, pageDown(top))
	prot := linux.PROT_READ | linux.PROT_WRITE
	if exec {
		prot |= linux.PROT_EXEC
	}
	_, err := m.MapAnon(uintptr(top-size), uintptr(size), prot, true, true)
	return err
}

// chooseBrk places the program break like Linux: at the page after the
// executable's highest segment; when randomising, one page further (a gap
// after the bss) or, for an ET_DYN run without interpreter, at
// ELF_ET_DYN_BASE since mmap placed the image itself, then moved up by a
// random number of pages within the architecture's range.
func chooseBrk(img *elfImage, exe loaded, hasInterp, randomize bool, arch *archParams, taskSize uint64, rnd *randSource) (uint64, error) {
	brk, _ := pageUp(exe.end)
	if !randomize {
		return brk, nil
	}
	if img.hdr.Type == linux.ET_DYN && !hasInterp {
		brk = arch.etDynBase(taskSize)
	} else {
		brk += linux.PageSize
	}
	pages := arch.brkRandomRange / linux.PageSize
	if brk > taskSize || taskSize-brk < arch.brkRandomRange {
		return brk, nil
	}
	r, err := rnd.below(pages)
	if err != nil {
		return 0, err
	}
	return brk + r*linux.PageSize, nil
}

// mapVDSO maps a prebuilt vDSO image read+exec where mmap chooses.
func mapVDSO(m Mapper, f File, arch *archParams, taskSize uint64) (uint64, error) {
	img, err := parseELF(f, arch, taskSize)
	if err != nil {
		return 0, err
	}
	if img.hdr.Type != linux.ET_DYN {
		return 0, errorf(linux.ENOEXEC, "vDSO image is not ET_DYN")
	}
	size, ok := pageUp(uint64(f.Size()))
	if !ok || size == 0 {
		return 0, errorf(linux.ENOEXEC, "vDSO image size %d", f.Size())
	}
	addr, err := m.MapFile(0, uintptr(size), f, 0, linux.PROT_READ|linux.PROT_EXEC, false)
	return uint64(addr), err
}

// buildAuxv is the auxiliary vector in Linux's order.
func buildAuxv(args *LoadArgs, arch *archParams, plan *stackPlan, img *elfImage, exe loaded, res *Result) []linux.AuxEntry {
	minSig := args.MinSigStackSize
	if minSig == 0 {
		minSig = arch.minSigStackSize
	}
	b2u := func(b bool) uint64 {
		if b {
			return 1
		}
		return 0
	}
	var auxv []linux.AuxEntry
	add := func(k, v uint64) { auxv = append(auxv, linux.AuxEntry{Key: k, Value: v}) }
	if res.VDSOBase != 0 {
		add(linux.AT_SYSINFO_EHDR, res.VDSOBase)
	}
	add(linux.AT_MINSIGSTKSZ, minSig)
	add(linux.AT_HWCAP, args.HWCap)
	add(linux.AT_PAGESZ, linux.PageSize)
	add(linux.AT_CLKTCK, linux.CLK_TCK)
	add(linux.AT_PHDR, exe.phdr)
	add(linux.AT_PHENT, linux.SizeofElfProg64)
	add(linux.AT_PHNUM, uint64(img.hdr.Phnum))
	add(linux.AT_BASE, res.Base)
	add(linux.AT_FLAGS, 0)
	add(linux.AT_ENTRY, exe.entry)
	add(linux.AT_UID, uint64(args.Creds.UID))
	add(linux.AT_EUID, uint64(args.Creds.EUID))
	add(linux.AT_GID, uint64(args.Creds.GID))
	add(linux.AT_EGID, uint64(args.Creds.EGID))
	add(linux.AT_SECURE, b2u(args.Creds.Secure))
	add(linux.AT_RANDOM, plan.random)
	add(linux.AT_HWCAP2, args.HWCap2)
	add(linux.AT_EXECFN, plan.execFn)
	add(linux.AT_PLATFORM, plan.platform)
	if args.RseqFeatureSize != 0 {
		add(linux.AT_RSEQ_FEATURE_SIZE, args.RseqFeatureSize)
		add(linux.AT_RSEQ_ALIGN, rseqAlign)
	}
	add(linux.AT_NULL, 0)
	return auxv
}

// comm is the task name Linux derives from the execve path: its base
// name, cut to TASK_COMM_LEN-1 bytes.
func comm(filename string) string {
	c := path.Base(filename)
	if filename == "" || c == "/" || c == "." {
		c = filename
	}
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// randSource draws layout randomness from the caller's reader.
type randSource struct {
	r io.Reader
}

func (s *randSource) uint64() (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(s.r, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// below returns a value in [0, n); n must be > 0.
func (s *randSource) below(n uint64) (uint64, error) {
	v, err := s.uint64()
	return v % n, err
}

// mmapRnd is arch_mmap_rnd: up to 2^bits pages.
func (s *randSource) mmapRnd(bits uint) (uint64, error) {
	v, err := s.uint64()
	return (v & (1<<bits - 1)) << linux.PageShift, err
}
