package stub

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"golang.org/x/sys/unix"
)

// Base is where the stub page is loaded: below the window in which the host
// randomizes the initial stack top (1 GiB with 4 KiB pages), for a 48-bit
// user address space. Hosts configured with 39-bit user addresses cannot
// load it (exec fails and ptrace.New reports the error).
const Base = 0xfffb_0000_0000

// taskSize is TASK_SIZE for a 48-bit user address space.
const taskSize = 0x1_0000_0000_0000

const elfMachine = linux.EM_AARCH64

// InitResults returns the results of the start-up code's rt_sigprocmask and
// two munmap calls (x19, x20, x21), read at the InitTrap stop.
func InitResults(r *linux.PtraceRegs) [3]uint64 {
	return [3]uint64{r.Regs[19], r.Regs[20], r.Regs[21]}
}

// SetParent sets the value the ProcessClone child compares getppid() with.
func SetParent(r *linux.PtraceRegs, pid int) { r.Regs[28] = uint64(pid) }

// A64 encodings used below (Arm ARM, C6.2):
//
//	D2800000|hw<<21|imm16<<5|d   movz xd, #imm16, lsl #16*hw
//	F2800000|hw<<21|imm16<<5|d   movk xd, #imm16, lsl #16*hw
//	AA0003E0|m<<16|d             mov xd, xm (orr xd, xzr, xm)
//	10000000|lo<<29|hi<<5|d      adr xd, label
//	14000000|imm26               b label
//	B4000000|imm19<<5|t          cbz xt, label
//	B5000000|imm19<<5|t          cbnz xt, label
//	54000001|imm19<<5            b.ne label
//	EB000000|m<<16|n<<5|1F       cmp xn, xm
//	D4000001                     svc #0
//	D4200000                     brk #0
func insn(a *asm, v uint32) { a.u32(v) }

func mov64(a *asm, d uint32, v uint64) {
	insn(a, 0xd2800000|uint32(v&0xffff)<<5|d)
	for hw := uint32(1); hw < 4; hw++ {
		if part := uint32(v>>(16*hw)) & 0xffff; part != 0 {
			insn(a, 0xf2800000|hw<<21|part<<5|d)
		}
	}
}

func movReg(a *asm, d, m uint32) { insn(a, 0xaa0003e0|m<<16|d) }
func svc(a *asm)                 { insn(a, 0xd4000001) }
func brk(a *asm)                 { insn(a, 0xd4200000) }

func patchOr(b []byte, at int, v uint32) {
	binary.LittleEndian.PutUint32(b[at:], binary.LittleEndian.Uint32(b[at:])|v)
}

func imm19(b []byte, at, target int) { patchOr(b, at, (uint32((target-at)/4)&0x7ffff)<<5) }
func imm26(b []byte, at, target int) { patchOr(b, at, uint32((target-at)/4)&0x3ffffff) }
func adr21(b []byte, at, target int) {
	off := uint32(target - at)
	patchOr(b, at, (off&3)<<29|((off>>2)&0x7ffff)<<5)
}

// branch emits the instruction base, patched to reach label.
func branch(a *asm, base uint32, label string, patch func([]byte, int, int)) {
	a.ref(label, a.pos, patch)
	insn(a, base)
}

func assemble() ([]byte, Addrs) {
	a := newAsm(0) // udf #0 filler

	a.org(offSigset)
	a.label("sigset")
	a.u64(^uint64(0))

	a.org(offInit)
	a.label("init")
	// See code_amd64.go for why each step is there.
	mov64(a, 8, unix.SYS_RT_SIGPROCMASK)
	mov64(a, 0, unix.SIG_SETMASK)
	branch(a, 0x10000000|1, "sigset", adr21)
	mov64(a, 2, 0)
	mov64(a, 3, 8)
	svc(a)
	movReg(a, 19, 0)
	mov64(a, 8, unix.SYS_CLOSE_RANGE)
	mov64(a, 0, MemFD+1)
	mov64(a, 1, 0xffffffff)
	mov64(a, 2, 0)
	svc(a)
	mov64(a, 8, unix.SYS_MUNMAP)
	mov64(a, 0, 0)
	mov64(a, 1, Base)
	svc(a)
	movReg(a, 20, 0)
	mov64(a, 8, unix.SYS_MUNMAP)
	mov64(a, 0, End)
	mov64(a, 1, taskSize-End)
	svc(a)
	movReg(a, 21, 0)
	a.label("initTrap")
	brk(a)

	a.org(offIdle)
	a.label("idle")
	// ppoll(NULL, 0, NULL, NULL, 0): arm64 has no pause(2).
	mov64(a, 8, unix.SYS_PPOLL)
	for r := uint32(0); r < 5; r++ {
		mov64(a, r, 0)
	}
	svc(a)
	branch(a, 0x14000000, "idle", imm26)

	a.org(offSyscall)
	a.label("syscall")
	svc(a)
	a.label("syscallTrap")
	brk(a)

	a.org(offThreadClone)
	a.label("threadClone")
	svc(a)
	branch(a, 0xb4000000, "idle", imm19) // cbz x0, idle
	a.label("threadCloneTrap")
	brk(a)

	a.org(offProcessClone)
	a.label("processClone")
	svc(a)
	branch(a, 0xb5000000, "processCloneTrap", imm19) // cbnz x0, parent
	mov64(a, 8, unix.SYS_PRCTL)
	mov64(a, 0, unix.PR_SET_PDEATHSIG)
	mov64(a, 1, uint64(unix.SIGKILL))
	svc(a)
	mov64(a, 8, unix.SYS_GETPPID)
	svc(a)
	insn(a, 0xeb000000|28<<16|0<<5|0x1f) // cmp x0, x28
	branch(a, 0x54000001, "exit", imm19) // b.ne exit
	a.label("processChildTrap")
	brk(a)
	a.label("exit")
	mov64(a, 8, unix.SYS_EXIT_GROUP)
	mov64(a, 0, 0)
	svc(a)
	a.label("processCloneTrap")
	brk(a)

	page := a.finish()
	return page, Addrs{
		Init:             a.addr("init"),
		InitTrap:         a.addr("initTrap"),
		Idle:             a.addr("idle"),
		Syscall:          a.addr("syscall"),
		SyscallTrap:      a.addr("syscallTrap"),
		ThreadClone:      a.addr("threadClone"),
		ThreadCloneTrap:  a.addr("threadCloneTrap"),
		ProcessClone:     a.addr("processClone"),
		ProcessCloneTrap: a.addr("processCloneTrap"),
		ProcessChildTrap: a.addr("processChildTrap"),
	}
}
