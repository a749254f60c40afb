package platformtest

import "bytes"

var (
	// Six arguments, syscall 39; then exit(rax).
	SyscallArgs = Cat(
		[]byte{0xb8, 39, 0, 0, 0},             // mov $39, %eax
		[]byte{0xbf, 1, 0, 0, 0},              // mov $1, %edi
		[]byte{0xbe, 2, 0, 0, 0},              // mov $2, %esi
		[]byte{0xba, 3, 0, 0, 0},              // mov $3, %edx
		[]byte{0x41, 0xba, 4, 0, 0, 0},        // mov $4, %r10d
		[]byte{0x41, 0xb8, 5, 0, 0, 0},        // mov $5, %r8d
		[]byte{0x41, 0xb9, 6, 0, 0, 0},        // mov $6, %r9d
		[]byte{0x0f, 0x05},                    // syscall
		[]byte{0x48, 0x89, 0xc7},              // mov %rax, %rdi
		[]byte{0xb8, 60, 0, 0, 0, 0x0f, 0x05}, // exit(rdi)
	)
	// rdi = *(u64*)rbx; exit(rdi).
	Load = Cat([]byte{0x48, 0x8b, 0x3b}, ExitRDI)
	// *(u64*)rbx = rcx; exit(rdi).
	Store = Cat([]byte{0x48, 0x89, 0x0b}, ExitRDI)
	UD2   = []byte{0x0f, 0x0b}
	Div0  = []byte{0x31, 0xc9, 0x48, 0xf7, 0xf1} // xor %ecx,%ecx; div %rcx
	Int3  = []byte{0xcc, 0x90}
	Spin  = []byte{0xeb, 0xfe} // jmp .
	// loop: getpid(); r12++; jmp loop.
	Count = []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x49, 0xff, 0xc4, 0xeb, 0xf4}
	// loop: syscall; jmp loop.
	SyscallLoop = []byte{0x0f, 0x05, 0xeb, 0xfc}
	// rdi = xmm0; xmm1 = rsi; exit(rdi).
	XMM = Cat([]byte{0x66, 0x48, 0x0f, 0x7e, 0xc7}, []byte{0x66, 0x48, 0x0f, 0x6e, 0xce}, ExitRDI)
	// rdi = *(u64*)%fs:0; exit(rdi).
	FS = Cat([]byte{0x64, 0x48, 0x8b, 0x3c, 0x25, 0, 0, 0, 0}, ExitRDI)
	// jmp *%rbx.
	Jump = []byte{0xff, 0xe3}

	ExitRDI = []byte{0xb8, 60, 0, 0, 0, 0x0f, 0x05}
)

// Cat joins instruction byte sequences into one program.
func Cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
