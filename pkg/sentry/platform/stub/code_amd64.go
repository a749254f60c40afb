package stub

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"golang.org/x/sys/unix"
)

// Base is where the stub page is loaded. It sits below the window in which
// the host kernel randomizes the initial stack top of an exec'd program
// (up to 16 GiB below TASK_SIZE), so loading the ELF can never collide
// with the stack the kernel sets up for it.
const Base = 0x7ffb_0000_0000

// taskSize is the host's TASK_SIZE for 47-bit user address spaces: the end
// of the range the start-up code unmaps.
const taskSize = 0x7fff_ffff_f000

const elfMachine = linux.EM_X86_64

// InitResults returns the results of the start-up code's rt_sigprocmask and
// two munmap calls (r12, r13, r14), read at the InitTrap stop.
func InitResults(r *linux.PtraceRegs) [3]uint64 { return [3]uint64{r.R12, r.R13, r.R14} }

// SetParent sets the value the ProcessClone child compares getppid() with.
func SetParent(r *linux.PtraceRegs, pid int) { r.R15 = uint64(pid) }

// x86-64 encodings used below (Intel SDM vol. 2):
//
//	B8+r id        mov $imm32, %r32
//	41 BA id       mov $imm32, %r10d
//	48 B8+r io     movabs $imm64, %r64
//	31 /r          xor %r32, %r32
//	48 8D 35 d32   lea d32(%rip), %rsi
//	49 89 C4+n     mov %rax, %r12+n
//	48 85 C0       test %rax, %rax
//	4C 39 F8       cmp %r15, %rax
//	0F 84 d32      jz/je rel32
//	74/75 d8       jz/jnz rel8
//	EB d8          jmp rel8
//	0F 05          syscall
//	CC             int3
func movEAX(a *asm, v uint32) { a.bytes(0xb8); a.u32(v) }
func movEDI(a *asm, v uint32) { a.bytes(0xbf); a.u32(v) }
func movESI(a *asm, v uint32) { a.bytes(0xbe); a.u32(v) }
func movRDI(a *asm, v uint64) { a.bytes(0x48, 0xbf); a.u64(v) }
func movRSI(a *asm, v uint64) { a.bytes(0x48, 0xbe); a.u64(v) }
func syscallInsn(a *asm)      { a.bytes(0x0f, 0x05) }

func rel32(b []byte, at, target int) {
	binary.LittleEndian.PutUint32(b[at:], uint32(int32(target-(at+4))))
}

func assemble() ([]byte, Addrs) {
	a := newAsm(0xcc)

	a.org(offSigset)
	a.label("sigset")
	a.u64(^uint64(0))

	a.org(offInit)
	a.label("init")
	// rt_sigprocmask(SIG_SETMASK, &sigset, NULL, 8): nothing the host
	// sends may reach an untraced stub thread; a traced one reports every
	// synchronous fault to its tracer regardless of the mask.
	movEAX(a, unix.SYS_RT_SIGPROCMASK)
	movEDI(a, unix.SIG_SETMASK)
	a.bytes(0x48, 0x8d, 0x35)
	a.ref("sigset", a.pos, rel32)
	a.u32(0)
	a.bytes(0x31, 0xd2)
	a.bytes(0x41, 0xba)
	a.u32(8)
	syscallInsn(a)
	a.bytes(0x49, 0x89, 0xc4)
	// close_range(MemFD+1, ~0U, 0): the Sentry may hold fds without
	// O_CLOEXEC. Its result is not checked (ENOSYS before Linux 5.9).
	movEAX(a, unix.SYS_CLOSE_RANGE)
	movEDI(a, MemFD+1)
	movESI(a, 0xffffffff)
	a.bytes(0x31, 0xd2)
	syscallInsn(a)
	// munmap(0, Base); munmap(End, taskSize-End): the exec-time stack,
	// vDSO and vvar go, the application range is empty.
	movEAX(a, unix.SYS_MUNMAP)
	a.bytes(0x31, 0xff)
	movRSI(a, Base)
	syscallInsn(a)
	a.bytes(0x49, 0x89, 0xc5)
	movEAX(a, unix.SYS_MUNMAP)
	movRDI(a, End)
	movRSI(a, taskSize-End)
	syscallInsn(a)
	a.bytes(0x49, 0x89, 0xc6)
	a.bytes(0xcc)
	a.label("initTrap")

	a.org(offIdle)
	a.label("idle")
	movEAX(a, unix.SYS_PAUSE)
	syscallInsn(a)
	a.bytes(0xeb, 0xf7) // jmp idle

	a.org(offSyscall)
	a.label("syscall")
	syscallInsn(a)
	a.bytes(0xcc)
	a.label("syscallTrap")

	a.org(offThreadClone)
	a.label("threadClone")
	syscallInsn(a)
	a.bytes(0x48, 0x85, 0xc0)
	a.bytes(0x0f, 0x84)
	a.ref("idle", a.pos, rel32)
	a.u32(0)
	a.bytes(0xcc)
	a.label("threadCloneTrap")

	a.org(offProcessClone)
	a.label("processClone")
	syscallInsn(a)
	a.bytes(0x48, 0x85, 0xc0)
	a.bytes(0x74, 0x01) // jz child
	a.bytes(0xcc)
	a.label("processCloneTrap")
	// child: prctl(PR_SET_PDEATHSIG, SIGKILL); if getppid() != r15, exit.
	movEAX(a, unix.SYS_PRCTL)
	movEDI(a, unix.PR_SET_PDEATHSIG)
	movESI(a, uint32(unix.SIGKILL))
	syscallInsn(a)
	movEAX(a, unix.SYS_GETPPID)
	syscallInsn(a)
	a.bytes(0x4c, 0x39, 0xf8)
	a.bytes(0x75, 0x01) // jne exit
	a.bytes(0xcc)
	a.label("processChildTrap")
	movEAX(a, unix.SYS_EXIT_GROUP)
	a.bytes(0x31, 0xff)
	syscallInsn(a)

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
