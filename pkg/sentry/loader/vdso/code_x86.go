package vdso

// x86-64 Linux system call numbers of the fallbacks.
const (
	sysGettimeofday = 96
	sysTime         = 201
	sysClockGettime = 228
	sysClockGetres  = 229
	sysGetcpu       = 309
)

const nsPerSec = 1000000000

// assembleX86 is the vDSO text for x86-64, placed at image offset origin
// (the vvar page is at offset -VVarSize). The functions follow the SysV
// calling convention and clobber only caller-saved registers; they use the
// stack only for the return address of the internal call to now.
func assembleX86(origin uint64) ([]byte, []function) {
	a := newX86(origin)
	var funcs []function
	fn := func(global, weak string, body func()) {
		start := len(a.buf)
		body()
		// Pad with INT3 so that functions start 16-byte aligned.
		for len(a.buf)%16 != 0 {
			a.emit(0xcc)
		}
		funcs = append(funcs, function{off: uint64(start), size: uint64(len(a.buf) - start), global: global, weak: weak})
	}
	vvar := func() { a.leaRIP(r9, -VVarSize) }

	// now computes clock rdi (0..15) from the vvar page at r9 under its
	// sequence counter: rax = the value in ns, r8 = the clock's resolution,
	// 0 if the vDSO does not answer for it (rax is then meaningless).
	// Clobbers rcx, rdx, r10, r11.
	now := func() {
		a.label("now")
		a.movLoad(r10, at(r9, offSeq))
		a.testImm32(r10, 1)
		a.jcc(ccNE, "now_busy")
		a.movLoad(r8, mem{base: r9, index: rdi, scale: 8, disp: offRes})
		a.testRR(r8, r8)
		a.jcc(ccE, "now_check")
		a.movLoad(r11, mem{base: r9, index: rdi, scale: 8, disp: offOffsets})
		a.opRM(true, []byte{0x03}, r11, at(r9, offBaseMono)) // add r11, [baseMono]
		a.movLoad(rcx, at(r9, offShift))
		// The LFENCE keeps RDTSC after the loads above, so the counter
		// is not read before the line it is measured against.
		a.lfence()
		a.rdtsc()
		a.shlImm(rdx, 32)
		a.orRR(rax, rdx)
		a.subLoad(rax, at(r9, offBaseTSC))
		a.jcc(ccAE, "now_scale")
		a.zero32(rax) // a TSC read before the base counts as the base
		a.label("now_scale")
		a.mulMem(at(r9, offMult))
		a.shrdCL(rax, rdx)
		a.addRR(rax, r11)
		// Truncate to the resolution, skipping the division for the
		// precise clocks.
		a.opRR(true, []byte{0x83}, 7, r8) // cmp r8, 1
		a.emit(1)
		a.jcc(ccE, "now_check")
		a.movRR(r11, rax)
		a.zero32(rdx)
		a.divRR(r8)
		a.subRR(r11, rdx)
		a.movRR(rax, r11)
		a.label("now_check")
		// x86 does not reorder loads with loads: the fields were read
		// before this second read of the counter.
		a.cmpLoad(r10, at(r9, offSeq))
		a.jcc(ccNE, "now")
		a.ret()
		a.label("now_busy")
		a.pause()
		a.jmp("now")
	}

	// splitNs divides rax (ns) into rax = seconds, rdx = nanoseconds.
	splitNs := func() {
		a.movImm32(rcx, nsPerSec)
		a.zero32(rdx)
		a.divRR(rcx)
	}

	// int clock_gettime(clockid_t rdi, struct timespec *rsi)
	fn("__vdso_clock_gettime", "clock_gettime", func() {
		a.zeroExtend32(rdi) // clockid_t is 32 bits; the upper half is undefined
		a.cmpImm8(rdi, numClockIDs-1)
		a.jcc(ccA, "cg_sys") // negative IDs (CPU clocks) too, unsigned
		vvar()
		a.call("now")
		a.testRR(r8, r8)
		a.jcc(ccE, "cg_sys")
		splitNs()
		a.movStore(at(rsi, 0), rax)
		a.movStore(at(rsi, 8), rdx)
		a.zero32(rax)
		a.ret()
		a.label("cg_sys")
		a.movImm32(rax, sysClockGettime)
		a.syscall()
		a.ret()
	})

	// int gettimeofday(struct timeval *rdi, struct timezone *rsi)
	fn("__vdso_gettimeofday", "gettimeofday", func() {
		a.testRR(rsi, rsi)
		a.jcc(ccNE, "gtod_sys") // the Sentry owns the timezone
		a.testRR(rdi, rdi)
		a.jcc(ccE, "gtod_ok")
		a.movRR(rsi, rdi) // keep tv; rsi (tz) was NULL
		a.zero32(rdi)     // CLOCK_REALTIME
		vvar()
		a.call("now")
		a.testRR(r8, r8)
		a.jcc(ccE, "gtod_restore")
		splitNs()
		a.movStore(at(rsi, 0), rax)
		a.movRR(rax, rdx)
		a.movImm32(rcx, 1000)
		a.zero32(rdx)
		a.divRR(rcx)
		a.movStore(at(rsi, 8), rax)
		a.label("gtod_ok")
		a.zero32(rax)
		a.ret()
		a.label("gtod_restore")
		a.movRR(rdi, rsi)
		a.zero32(rsi)
		a.label("gtod_sys")
		a.movImm32(rax, sysGettimeofday)
		a.syscall()
		a.ret()
	})

	// time_t time(time_t *rdi)
	fn("__vdso_time", "time", func() {
		a.movRR(rsi, rdi)
		a.zero32(rdi) // CLOCK_REALTIME
		vvar()
		a.call("now")
		a.testRR(r8, r8)
		a.jcc(ccE, "time_sys")
		splitNs()
		a.testRR(rsi, rsi)
		a.jcc(ccE, "time_ret")
		a.movStore(at(rsi, 0), rax)
		a.label("time_ret")
		a.ret()
		a.label("time_sys")
		a.movRR(rdi, rsi)
		a.movImm32(rax, sysTime)
		a.syscall()
		a.ret()
	})

	// int clock_getres(clockid_t rdi, struct timespec *rsi)
	fn("__vdso_clock_getres", "clock_getres", func() {
		a.zeroExtend32(rdi)
		a.cmpImm8(rdi, numClockIDs-1)
		a.jcc(ccA, "res_sys")
		vvar()
		a.label("res_retry")
		a.movLoad(r10, at(r9, offSeq))
		a.testImm32(r10, 1)
		a.jcc(ccNE, "res_busy")
		a.movLoad(rdx, mem{base: r9, index: rdi, scale: 8, disp: offRes})
		a.cmpLoad(r10, at(r9, offSeq))
		a.jcc(ccNE, "res_retry")
		a.testRR(rdx, rdx)
		a.jcc(ccE, "res_sys")
		a.testRR(rsi, rsi)
		a.jcc(ccE, "res_ok")
		a.storeImm32(at(rsi, 0), 0)
		a.movStore(at(rsi, 8), rdx)
		a.label("res_ok")
		a.zero32(rax)
		a.ret()
		a.label("res_busy")
		a.pause()
		a.jmp("res_retry")
		a.label("res_sys")
		a.movImm32(rax, sysClockGetres)
		a.syscall()
		a.ret()
	})

	// int getcpu(unsigned *rdi, unsigned *rsi, void *rdx): always the
	// Sentry's answer (see the package comment).
	fn("__vdso_getcpu", "getcpu", func() {
		a.movImm32(rax, sysGetcpu)
		a.syscall()
		a.ret()
	})

	// now is shared; it is not exported.
	now()
	return a.finish(), funcs
}
