package systrap

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// Stub address-space layout above stub.MaxUserAddress (the application
// never maps there; stub.Init emptied everything but the stub page).
const (
	// codeBase is the systrap code page: signal handler, restorer, the
	// thread entry, and the read-only data they use (signal mask,
	// sigaction, seccomp program). Right after the stub package's region.
	codeBase = stub.End
	codeSize = 0x2000

	// slotRegion is where a stub process maps its threads' slots: local
	// slot i at slotRegion + i*slotSize. Slot 0 is the process's first
	// thread (its leader).
	slotRegion   = 0x7ffc_0000_0000
	maxLocalSlot = (0x7fff_0000_0000 - slotRegion) / slotSize

	// shmFD is the stub's descriptor for the slot file.
	shmFD = stub.MemFD + 1
)

// A slot is one stub thread's shared page set: the mailbox between the
// thread's signal handler and the Sentry, and the thread's signal stack.
// Both sides map it (the stub at a fixed address, the Sentry anywhere in
// its mapping of the whole slot file). The handler finds its slot from
// its stack pointer, since the signal stack lies inside the slot and slots
// are slotSize-aligned.
//
// Everything in a slot is also writable by the application running on
// that thread (it is mapped in its address space), so the Sentry treats
// what it reads there as untrusted register values, nothing more.
const (
	slotSize = 0x10000

	offState     = 0x00  // u32: stateSentry / stateStub, | sleepBit while the waiter sleeps
	offKind      = 0x04  // u32, stub -> Sentry: kindTrap, kindDone
	offCmd       = 0x08  // u32, Sentry -> stub: cmd*
	offFlags     = 0x0c  // u32: flag*
	offSpin      = 0x10  // u32: pause iterations before sleeping
	offFPSize    = 0x14  // u32: bytes of FP state to copy (>= 576)
	offSigno     = 0x18  // u32: the trap's signal
	offStubCPU   = 0x1c  // u32: the stub's CPU when it last handed over (flagCPU)
	offSentryCPU = 0x38  // u32: the Sentry's CPU when it last handed over (flagCPU)
	offMagic     = 0x3c  // u32: slotMagic, set by the thread itself (see fastEntry)
	offFSBase    = 0x20  // u64, both ways
	offGSBase    = 0x28  // u64, both ways (only with flagFSGSBase)
	offCurFS     = 0x30  // u64, stub-private: fs base the thread has (without flagFSGSBase)
	offArgs      = 0x40  // [7]u64 command arguments
	offRet       = 0x80  // u64 command result
	offSelf      = 0x88  // u64: the slot's address in the stub, set by the thread itself
	offXFeatures = 0x90  // u64: the XSAVE components fastEntry saves (the frame's)
	fastStack    = 0x100 // top of the few bytes of stack fastEntry and fastRun use
	offSiginfo   = 0x100
	offGregs     = 0x180 // struct sigcontext's 23 general words
	offSSDesc    = 0x240 // stack_t for sigaltstack
	offBatch     = 0x260 // cmdBatch's calls: [maxBatch][7]u64 nr, a0..a5; nr becomes the result
	offFP        = 0x1000
	maxFPSize    = 0x3000
	altStack     = 0x4000
	altSize      = slotSize - altStack
)

// Mailbox states and kinds. The state word says who owns the slot; the
// other side is the one waiting for it to change, and only that side sets
// sleepBit (by compare-and-swap) before it sleeps on the word. Handing the
// slot over is an exchange: whoever finds sleepBit in the old value wakes
// the sleeper. So each side compares only the low byte.
const (
	stateSentry = 1 // the Sentry owns the slot; the stub waits
	stateStub   = 2 // the stub owns the slot; the Sentry waits
	sleepBit    = 0x100

	kindTrap    = 1 // a signal arrived: registers, FP, siginfo saved
	kindDone    = 2 // a command finished; offRet holds its result
	kindSyscall = 3 // fastEntry: a system call; registers and FP saved, no siginfo

	cmdRun          = 1 // load the saved registers and return to them
	cmdSyscall      = 2 // offArgs: nr, a0..a5
	cmdCloneThread  = 3 // offArgs: stub slot address, slot file offset
	cmdCloneProcess = 4 // offArgs: slot file offset, expected parent pid
	cmdBatch        = 5 // offArgs: how many calls at offBatch (<= maxBatch)

	flagFSGSBase = 1 // the handler may use rd/wr{fs,gs}base
	// flagCPU: both sides note their CPU (RDTSCP's TSC_AUX, which Linux
	// sets to the CPU number) when they hand over, and the waiter does not
	// spin when the other side last ran on its own CPU: spinning there
	// would only keep the other side from running.
	flagCPU = 2

	archSetFS = 0x1002 // arch_prctl ARCH_SET_FS

	// slotMagic marks a thread whose gs base is its own slot, which is
	// what fastEntry needs: see buildPage.
	slotMagic = 0x5359_5354

	eflagsTF = 0x100 // the trap flag

	batchCallSize = 7 * 8
	maxBatch      = (offFP - offBatch) / batchCallSize
)

// Offsets in the kernel's signal frame (struct ucontext on x86-64).
const (
	ucMcontext = 40                // struct sigcontext
	ucFpregs   = ucMcontext + 23*8 // pointer to the XSAVE area
	ucSigmask  = ucMcontext + 32*8 // after sigcontext's reserved words
	nGregs     = 23                // r8..cr2
	nAppGregs  = 18                // r8..eflags: what the Sentry may set
)

// Indices into sigcontext's general words.
const (
	gR8 = iota
	gR9
	gR10
	gR11
	gR12
	gR13
	gR14
	gR15
	gRDI
	gRSI
	gRBP
	gRBX
	gRDX
	gRAX
	gRCX
	gRSP
	gRIP
	gEFLAGS
	gCSGSFS
	gERR
	gTRAPNO
	gOLDMASK
	gCR2
)

// trapSignals are the signals whose handler reports to the Sentry:
// everything the application can raise synchronously, and kickSignal.
var trapSignals = []unix.Signal{unix.SIGSYS, unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGTRAP, kickSignal}

// kickSignal makes a stub thread leave application code (Interrupt).
// Stub processes never have children of their own (they clone with
// CLONE_PARENT), so the host never sends it for its usual reason.
const kickSignal = unix.SIGCHLD

// appMask is the signal mask application code runs with: only the trap
// signals are deliverable. A synchronous signal that is blocked when it
// is raised kills the process, so none of them may be.
func appMask() uint64 {
	m := ^uint64(0)
	for _, s := range trapSignals {
		m &^= 1 << (uint(s) - 1)
	}
	return m
}

// Data offsets in the code page.
const (
	dataMask     = 0x000  // u64: appMask
	dataSigact   = 0x040  // struct sigaction for every trap signal
	dataFprog    = 0x080  // struct sock_fprog
	dataName     = 0x0a0  // memfd name
	dataFilter   = 0x1800 // the seccomp program
	codeStart    = 0x100
	maxFilterLen = (codeSize - dataFilter) / 8
)

// page is the generated code page and the addresses the Sentry needs.
type page struct {
	image       []byte
	handler     uintptr
	restorer    uintptr
	childEntry  uintptr // thread entry; r14 = slot address
	enter       uintptr // the ud2 a new thread reports through
	syscallInsn uintptr // the command's syscall instruction (for tests)
	fastEntry   uintptr // where patched application system calls jump
	fallback    uintptr // the ud2 fastEntry reports through when gs is not the slot's
	name        uintptr // memfd name
	sigact      uintptr
	fprog       uintptr
}

// stubSyscalls are the only system calls the stub's own code may make;
// any other from the code page kills the stub process.
var stubSyscalls = []uint32{
	unix.SYS_FUTEX, unix.SYS_RT_SIGRETURN, unix.SYS_MMAP, unix.SYS_MUNMAP,
	unix.SYS_CLONE, unix.SYS_ARCH_PRCTL, unix.SYS_RT_SIGPROCMASK,
	unix.SYS_SIGALTSTACK, unix.SYS_PRCTL, unix.SYS_GETPPID, unix.SYS_EXIT_GROUP,
	unix.SYS_MEMBARRIER,
}

// threadCloneFlags make a stub thread: everything a POSIX thread shares.
const threadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM

func buildPage() page {
	a := newAsm(codeSize)
	addr := func(l string) uintptr { return codeBase + uintptr(a.labels[l]) }

	binary.LittleEndian.PutUint64(a.buf[dataMask:], appMask())
	copy(a.buf[dataName:], "appkernel-systrap\x00")

	a.org(codeStart)
	a.label("restorer")
	a.movImm32(rax, unix.SYS_RT_SIGRETURN)
	a.syscall()

	// handler(sig=rdi, info=rsi, uc=rdx), on the slot's signal stack
	// with every signal blocked. Registers: rbx slot, r12 ucontext,
	// r15 the stack pointer at entry (the frame).
	a.org(codeStart + 0x10)
	a.label("handler")
	a.movRR(r15, rsp)
	a.movRR(rbx, rsp)
	a.andImm64(rbx, -slotSize)
	a.movRR(r12, rdx)
	// Where the signal found the thread decides what the frame holds:
	// see "Patched system calls" below.
	a.load64(rax, r12, ucMcontext+8*gRIP)
	a.leaRIP(rcx, "fastEntry")
	a.cmp64(rax, rcx)
	a.jcc(ccB, "notIgnored")
	a.jcc(ccNE, "pastEntry")
	// At fastEntry itself the magic check may have faulted.
	a.cmpImm32(rdi, uint32(kickSignal))
	a.jcc(ccNE, "notIgnored")
	a.jmp("sigreturn")
	a.label("pastEntry")
	a.leaRIP(rcx, "run")
	a.cmp64(rax, rcx)
	a.jcc(ccB, "sigreturn")
	a.label("notIgnored")
	a.store32(rbx, offSigno, rdi)
	a.lea(rdi, rbx, offSiginfo)
	a.movImm32(rcx, linux.SizeofSignalInfo/8)
	a.repMovsq() // siginfo: rsi -> slot
	a.leaRIP(rcx, "fastRun")
	a.cmp64(rax, rcx)
	a.jcc(ccB, "frameState")
	a.leaRIP(rcx, "fastRunEnd")
	a.cmp64(rax, rcx)
	a.jcc(ccAE, "frameState")
	// Interrupted while loading what the Sentry set: that is in the
	// slot already, and the frame's state is stub state.
	a.storeImm32(rbx, offKind, kindTrap)
	a.jmp("publish")
	a.label("frameState")
	a.leaRIP(rcx, "needFrame")
	a.cmp64(rax, rcx)
	a.jcc(ccE, "run")

	a.lea(rsi, r12, ucMcontext)
	a.lea(rdi, rbx, offGregs)
	a.movImm32(rcx, nGregs)
	a.repMovsq()
	a.load64(rsi, r12, ucFpregs)
	a.test64(rsi, rsi)
	a.jcc(ccE, "savedFP")
	a.lea(rdi, rbx, offFP)
	a.load32(rcx, rbx, offFPSize)
	a.repMovsb()
	a.label("savedFP")
	a.testImm32(rbx, offFlags, flagFSGSBase)
	a.jcc(ccE, "noRdfs")
	a.rdfsbase()
	a.store64(rbx, offFSBase, rax)
	a.rdgsbase()
	a.cmp64(rax, rbx) // the slot itself stands for the application's 0
	a.jcc(ccNE, "appGS")
	a.xor32(rax)
	a.label("appGS")
	a.store64(rbx, offGSBase, rax)
	a.jmp("saved")
	a.label("noRdfs")
	a.load64(rax, rbx, offCurFS)
	a.store64(rbx, offFSBase, rax)
	a.label("saved")
	a.storeImm32(rbx, offKind, kindTrap)
	a.jmp("publish")

	// Patched system calls. The Sentry rewrites `mov $nr, %eax; syscall`
	// in application code into a jump to a trampoline that loads eax and
	// rcx (the return address, as syscall would) and jumps here, still in
	// application context: no signal, no frame. Each stub thread's gs
	// base is its own slot while the application's is 0 (the handler
	// translates), which the magic word proves; otherwise (the
	// application set a gs base) the check faults or fails and the
	// thread reports through a trap at the check or at fallback, which
	// the Sentry reads as the same system call.
	//
	// A signal (a kick, in practice) that arrives between fastEntry and
	// run finds the thread between saving its state and waiting for the
	// Sentry: the handler returns at once and the thread goes on to hand
	// over the call (at fastEntry itself, only a kick: the check may
	// fault). One that arrives in [fastRun, fastRunEnd) finds it
	// loading the state the Sentry set, which is complete in the slot:
	// the handler reports it from there and will sigreturn into it.
	a.label("fastEntry")
	a.gsMem(false, []byte{0x81}, 7, offMagic) // cmpl $slotMagic, %gs:offMagic
	a.u32(slotMagic)
	a.jcc(ccNE, "fallback")
	a.gsMem(true, []byte{0x89}, rbx, offGregs+8*gRBX)
	a.gsMem(true, []byte{0x8b}, rbx, offSelf)
	for _, r := range [][2]int{{r8, gR8}, {r9, gR9}, {r10, gR10}, {r12, gR12}, {r13, gR13},
		{r14, gR14}, {r15, gR15}, {rdi, gRDI}, {rsi, gRSI}, {rbp, gRBP}, {rdx, gRDX},
		{rax, gRAX}, {rcx, gRCX}, {rsp, gRSP}, {rcx, gRIP}} {
		a.store64(rbx, offGregs+8*int32(r[1]), r[0])
	}
	a.lea(rsp, rbx, fastStack)
	a.pushfq()
	a.popR(r11) // as syscall leaves it
	a.store64(rbx, offGregs+8*gEFLAGS, r11)
	a.store64(rbx, offGregs+8*gR11, r11)
	a.load64(rax, rbx, offXFeatures)
	a.movRR(rdx, rax)
	a.shrImm64(rdx, 32)
	a.xsave64(rbx, offFP)
	a.rdfsbase()
	a.store64(rbx, offFSBase, rax)
	a.storeImm64(rbx, offGSBase, 0)
	a.xor32(r12) // no frame: dispatch runs fastRun
	a.storeImm32(rbx, offKind, kindSyscall)

	// Hand the slot to the Sentry, waking it if it sleeps.
	a.label("publish")
	a.testImm32(rbx, offFlags, flagCPU)
	a.jcc(ccE, "noCPU")
	a.rdtscp()
	a.b(0x81, 0xe1) // and $0xfff, %ecx
	a.u32(0xfff)
	a.store32(rbx, offStubCPU, rcx)
	a.label("noCPU")
	a.movImm32(rax, stateSentry)
	a.xchgMem32(rax, rbx, offState)
	a.b(0xa9) // test $sleepBit, %eax
	a.u32(sleepBit)
	a.jcc(ccE, "wait")
	a.movImm32(rax, unix.SYS_FUTEX)
	a.lea(rdi, rbx, offState)
	a.movImm32(rsi, linux.FUTEX_WAKE)
	a.movImm32(rdx, 1)
	a.syscall()

	// Wait for a command: spin, then sleep on the state word.
	a.label("wait")
	a.load32(rcx, rbx, offSpin)
	a.testImm32(rbx, offFlags, flagCPU)
	a.jcc(ccE, "spin")
	a.load32(rax, rbx, offStubCPU)
	a.mem(false, []byte{0x3b}, rax, rbx, offSentryCPU) // cmp offSentryCPU(%rbx), %eax
	a.jcc(ccE, "sleep")
	a.label("spin")
	a.load32(rax, rbx, offState)
	a.b(0x3c, stateStub) // cmp $stateStub, %al: the sleep bit may be the Sentry's
	a.jcc(ccE, "dispatch")
	a.pause()
	a.decl(rcx)
	a.jcc(ccNE, "spin")
	a.label("sleep")
	a.load32(rax, rbx, offState)
	a.b(0x3c, stateStub)
	a.jcc(ccE, "dispatch")
	a.rr(false, []byte{0x89}, rax, rdx) // mov %eax, %edx
	a.orImm32(rdx, sleepBit)
	a.lockCmpxchg32(rdx, rbx, offState)
	a.jcc(ccNE, "sleep")
	a.movImm32(rax, unix.SYS_FUTEX)
	a.lea(rdi, rbx, offState)
	a.xor32(rsi) // FUTEX_WAIT; shared, since the Sentry waits on the same word
	a.xor32(r10)
	a.syscall()
	a.jmp("sleep")

	a.label("dispatch")
	a.load32(rax, rbx, offCmd)
	a.cmpImm32(rax, cmdRun)
	a.jcc(ccNE, "notRun")
	a.test64(r12, r12)
	a.jcc(ccE, "fastRun")
	a.jmp("run")
	a.label("notRun")
	a.cmpImm32(rax, cmdSyscall)
	a.jcc(ccE, "doSyscall")
	a.cmpImm32(rax, cmdCloneThread)
	a.jcc(ccE, "cloneThread")
	a.cmpImm32(rax, cmdCloneProcess)
	a.jcc(ccE, "cloneProcess")
	a.cmpImm32(rax, cmdBatch)
	a.jcc(ccE, "batch")
	a.label("invalid")
	a.storeImm64(rbx, offRet, -int32(unix.EINVAL))
	a.jmp("done")

	a.label("doSyscall")
	a.load64(rax, rbx, offArgs)
	for i, r := range []int{rdi, rsi, rdx, r10, r8, r9} {
		a.load64(r, rbx, offArgs+8*int32(i+1))
	}
	a.label("syscallInsn")
	a.syscall()
	a.label("result")
	a.store64(rbx, offRet, rax)
	a.label("done")
	a.storeImm32(rbx, offKind, kindDone)
	a.jmp("publish")

	// Several system calls in one command (r13 counts down, r14 walks
	// the calls); each result replaces its call's number.
	a.label("batch")
	a.load64(r13, rbx, offArgs)
	a.movImm32(rax, maxBatch)
	a.cmp64(r13, rax)
	a.jcc(ccA, "invalid")
	a.lea(r14, rbx, offBatch)
	a.label("batchNext")
	a.test64(r13, r13)
	a.jcc(ccE, "batchDone")
	a.load64(rax, r14, 0)
	for i, r := range []int{rdi, rsi, rdx, r10, r8, r9} {
		a.load64(r, r14, 8*int32(i+1))
	}
	a.syscall()
	a.store64(r14, 0, rax)
	a.addImm64(r14, batchCallSize)
	a.addImm64(r13, -1)
	a.jmp("batchNext")
	a.label("batchDone")
	a.xor32(rax)
	a.jmp("result")

	// Return to the application with the registers in the slot. The
	// legacy region's software-reserved bytes (464..511) stay the
	// kernel's: they tell sigreturn how much extended state follows.
	a.label("run")
	a.lea(rsi, rbx, offGregs)
	a.lea(rdi, r12, ucMcontext)
	a.movImm32(rcx, nAppGregs)
	a.repMovsq()
	a.load64(rdi, r12, ucFpregs)
	a.test64(rdi, rdi)
	a.jcc(ccE, "loadedFP")
	a.lea(rsi, rbx, offFP)
	a.movImm32(rcx, 464)
	a.repMovsb()
	a.addImm64(rsi, 48)
	a.addImm64(rdi, 48)
	a.load32(rcx, rbx, offFPSize)
	a.subImm32(rcx, 512)
	a.repMovsb()
	a.label("loadedFP")
	a.movImm64(rax, appMask())
	a.store64(r12, ucSigmask, rax)
	a.testImm32(rbx, offFlags, flagFSGSBase)
	a.jcc(ccE, "noWrfs")
	a.load64(rax, rbx, offFSBase)
	a.wrfsbase()
	a.load64(rax, rbx, offGSBase)
	a.test64(rax, rax)
	a.jcc(ccNE, "setGS")
	a.movRR(rax, rbx)
	a.label("setGS")
	a.wrgsbase()
	a.jmp("sigreturn")
	a.label("noWrfs")
	a.load64(rsi, rbx, offFSBase)
	a.cmpMem64(rsi, rbx, offCurFS)
	a.jcc(ccE, "sigreturn")
	a.movImm32(rax, unix.SYS_ARCH_PRCTL)
	a.movImm32(rdi, archSetFS)
	a.syscall()
	a.test64(rax, rax)
	a.jcc(ccNE, "sigreturn")
	a.store64(rbx, offCurFS, rsi)
	a.label("sigreturn")
	a.lea(rsp, r15, 8)
	a.movImm32(rax, unix.SYS_RT_SIGRETURN)
	a.syscall()

	// fastRun returns to the application without a frame. A gs base
	// of the application's own, or the trap flag (which popfq would
	// raise here, a step early), needs the frame: needFrame traps into
	// the handler, which goes to run.
	a.label("fastRun")
	a.load64(rax, rbx, offGSBase)
	a.test64(rax, rax)
	a.jcc(ccNE, "needFrame")
	a.testImm32(rbx, offGregs+8*gEFLAGS, eflagsTF)
	a.jcc(ccNE, "needFrame")
	a.load64(rax, rbx, offFSBase)
	a.wrfsbase()
	a.load64(rax, rbx, offXFeatures)
	a.movRR(rdx, rax)
	a.shrImm64(rdx, 32)
	a.xrstor64(rbx, offFP)
	a.lea(rsp, rbx, fastStack)
	a.pushMem64(rbx, offGregs+8*gEFLAGS)
	a.popfq()
	for _, r := range [][2]int{{r8, gR8}, {r9, gR9}, {r10, gR10}, {r11, gR11}, {r12, gR12},
		{r13, gR13}, {r14, gR14}, {r15, gR15}, {rdi, gRDI}, {rsi, gRSI}, {rbp, gRBP},
		{rdx, gRDX}, {rax, gRAX}, {rcx, gRCX}, {rsp, gRSP}, {rbx, gRBX}} {
		a.load64(r[0], rbx, offGregs+8*int32(r[1]))
	}
	a.gsMem(false, []byte{0xff}, 4, offGregs+8*gRIP) // jmp *%gs:rip
	a.label("fastRunEnd")
	a.label("needFrame")
	a.ud2()
	a.label("fallback")
	a.ud2()

	// New thread: map its slot, clone onto no stack (the child touches
	// none before childEntry clears rsp).
	a.label("cloneThread")
	a.movImm32(rax, unix.SYS_MMAP)
	a.load64(rdi, rbx, offArgs)
	a.movImm32(rsi, slotSize)
	a.movImm32(rdx, unix.PROT_READ|unix.PROT_WRITE)
	a.movImm32(r10, unix.MAP_SHARED|unix.MAP_FIXED)
	a.movImm32(r8, shmFD)
	a.load64(r9, rbx, offArgs+8)
	a.syscall()
	a.cmpMem64(rax, rbx, offArgs)
	a.jcc(ccNE, "result")
	a.load64(r14, rbx, offArgs)
	a.movImm32(rax, unix.SYS_CLONE)
	a.movImm32(rdi, threadCloneFlags)
	a.xor32(rsi)
	a.xor32(rdx)
	a.xor32(r10)
	a.xor32(r8)
	a.syscall()
	a.test64(rax, rax)
	a.jcc(ccNE, "result")
	a.jmp("childEntry")

	// New process: a child of the Sentry (CLONE_PARENT) sharing nothing.
	// It runs on no stack until its own slot replaces the inherited
	// mapping of ours at slotRegion.
	a.label("cloneProcess")
	a.load64(r14, rbx, offArgs)
	a.load64(r13, rbx, offArgs+8)
	a.movImm32(rax, unix.SYS_CLONE)
	a.movImm32(rdi, unix.CLONE_PARENT|uint32(unix.SIGCHLD))
	a.xor32(rsi)
	a.xor32(rdx)
	a.xor32(r10)
	a.xor32(r8)
	a.syscall()
	a.test64(rax, rax)
	a.jcc(ccNE, "result")
	a.xorESP()
	a.movImm32(rax, unix.SYS_MMAP)
	a.movImm64(rdi, slotRegion)
	a.movImm32(rsi, slotSize)
	a.movImm32(rdx, unix.PROT_READ|unix.PROT_WRITE)
	a.movImm32(r10, unix.MAP_SHARED|unix.MAP_FIXED)
	a.movImm32(r8, shmFD)
	a.movRR(r9, r14)
	a.syscall()
	a.movImm64(rcx, slotRegion)
	a.cmp64(rax, rcx)
	a.jcc(ccNE, "childExit")
	// Die with the Sentry; if it died before the prctl, exit now.
	a.movImm32(rax, unix.SYS_PRCTL)
	a.movImm32(rdi, unix.PR_SET_PDEATHSIG)
	a.movImm32(rsi, uint32(unix.SIGKILL))
	a.syscall()
	a.movImm32(rax, unix.SYS_GETPPID)
	a.syscall()
	a.cmp64(rax, r13)
	a.jcc(ccNE, "childExit")
	a.movImm64(r14, slotRegion)
	a.jmp("childEntry")
	a.label("childExit")
	a.movImm32(rax, unix.SYS_EXIT_GROUP)
	a.xor32(rdi)
	a.syscall()

	// childEntry (r14 = the thread's slot): signal stack in the slot,
	// the application's signal mask, then trap into the handler, which
	// reports the thread ready and waits for its first command.
	a.label("childEntry")
	a.xorESP()
	a.store64(r14, offSelf, r14)
	a.storeImm32(r14, offMagic, slotMagic)
	a.testImm32(r14, offFlags, flagFSGSBase)
	a.jcc(ccE, "noGS")
	a.movRR(rax, r14)
	a.wrgsbase()
	a.label("noGS")
	a.lea(rax, r14, altStack)
	a.store64(r14, offSSDesc, rax)
	a.storeImm64(r14, offSSDesc+8, 0)
	a.storeImm64(r14, offSSDesc+16, altSize)
	a.movImm32(rax, unix.SYS_SIGALTSTACK)
	a.lea(rdi, r14, offSSDesc)
	a.xor32(rsi)
	a.syscall()
	a.movImm32(rax, unix.SYS_RT_SIGPROCMASK)
	a.movImm32(rdi, unix.SIG_SETMASK)
	a.movImm64(rsi, codeBase+dataMask)
	a.xor32(rdx)
	a.movImm32(r10, 8)
	a.syscall()
	a.label("enter")
	a.ud2()
	if a.pos > dataFilter {
		panic("systrap: code overflows into the filter")
	}

	a.finish()
	p := page{
		image:       a.buf,
		handler:     addr("handler"),
		restorer:    addr("restorer"),
		childEntry:  addr("childEntry"),
		enter:       addr("enter"),
		syscallInsn: addr("syscallInsn"),
		fastEntry:   addr("fastEntry"),
		fallback:    addr("fallback"),
		name:        codeBase + dataName,
		sigact:      codeBase + dataSigact,
		fprog:       codeBase + dataFprog,
	}

	// struct sigaction (kernel layout): handler, flags, restorer, mask.
	sa := p.image[dataSigact:]
	binary.LittleEndian.PutUint64(sa[0:], uint64(p.handler))
	binary.LittleEndian.PutUint64(sa[8:], linux.SA_SIGINFO|linux.SA_ONSTACK|linux.SA_RESTORER)
	binary.LittleEndian.PutUint64(sa[16:], uint64(p.restorer))
	binary.LittleEndian.PutUint64(sa[24:], ^uint64(0))

	filter := stubFilter()
	if len(filter) > maxFilterLen {
		panic("systrap: seccomp program too long")
	}
	for i, f := range filter {
		b := p.image[dataFilter+8*i:]
		binary.LittleEndian.PutUint16(b[0:], f.Code)
		b[2], b[3] = f.Jt, f.Jf
		binary.LittleEndian.PutUint32(b[4:], f.K)
	}
	fp := p.image[dataFprog:]
	binary.LittleEndian.PutUint16(fp[0:], uint16(len(filter)))
	binary.LittleEndian.PutUint64(fp[8:], codeBase+dataFilter)
	return p
}

// stubFilter is the seccomp program every stub thread runs under: a
// system call made from the code page is allowed if it is one of
// stubSyscalls (and kills the stub otherwise); every other one, whatever
// its architecture, raises SIGSYS for the handler to report.
//
// seccomp_data.instruction_pointer is the address after the syscall
// instruction, so the range includes the page's end.
func stubFilter() []unix.SockFilter {
	const (
		ld  = linux.BPF_LD | linux.BPF_W | linux.BPF_ABS
		jeq = linux.BPF_JMP | linux.BPF_JEQ | linux.BPF_K
		jge = linux.BPF_JMP | linux.BPF_JGE | linux.BPF_K
		jgt = linux.BPF_JMP | linux.BPF_JGT | linux.BPF_K
		ret = linux.BPF_RET | linux.BPF_K
	)
	n := len(stubSyscalls)
	// Instruction indices: 8+n kill, 9+n allow, 10+n trap.
	kill, allow, trap := 8+n, 9+n, 10+n
	to := func(from, target int) uint8 { return uint8(target - from - 1) }
	prog := []unix.SockFilter{
		{Code: ld, K: 4}, // arch
		{Code: jeq, K: linux.AUDIT_ARCH_X86_64, Jf: to(1, trap)},
		{Code: ld, K: 12}, // instruction_pointer, high half
		{Code: jeq, K: uint32(codeBase >> 32), Jf: to(3, trap)},
		{Code: ld, K: 8}, // low half
		{Code: jge, K: uint32(codeBase & 0xffffffff), Jf: to(5, trap)},
		{Code: jgt, K: uint32((codeBase + codeSize) & 0xffffffff), Jt: to(6, trap)},
		{Code: ld, K: 0}, // nr
	}
	for i, nr := range stubSyscalls {
		prog = append(prog, unix.SockFilter{Code: jeq, K: nr, Jt: to(8+i, allow)})
	}
	prog = append(prog,
		unix.SockFilter{Code: ret, K: linux.SECCOMP_RET_KILL_PROCESS},
		unix.SockFilter{Code: ret, K: linux.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: ret, K: linux.SECCOMP_RET_TRAP},
	)
	_ = kill
	return prog
}
