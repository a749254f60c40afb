package linux

import (
	"crypto/rand"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// System identity and miscellany: uname, host and domain names,
// getrandom, sysinfo, personality, membarrier.

// Uname implements uname(2).
func Uname(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	u := t.Kernel().UTSNames()
	if err := t.MemoryManager().CopyObjectOut(args[0].Pointer(), &u); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// copyInUTSName reads sethostname/setdomainname's argument: CAP_SYS_ADMIN
// first (EPERM), then a length of at most 64 (EINVAL).
func copyInUTSName(t *kernel.Task, args arch.SyscallArguments) (string, error) {
	if !t.Credentials().HasCapability(abilinux.CAP_SYS_ADMIN) {
		return "", abilinux.EPERM
	}
	n := args[1].Int()
	if n < 0 || n > abilinux.UTSLen-1 {
		return "", abilinux.EINVAL
	}
	buf := make([]byte, n)
	if _, err := t.CopyIn(args[0].Pointer(), buf); err != nil {
		return "", abilinux.EFAULT
	}
	return string(buf), nil
}

// Sethostname implements sethostname(2); the name is the sandbox's own.
func Sethostname(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	name, err := copyInUTSName(t, args)
	if err != nil {
		return 0, err
	}
	t.Kernel().SetHostname(name)
	return 0, nil
}

// Setdomainname implements setdomainname(2).
func Setdomainname(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	name, err := copyInUTSName(t, args)
	if err != nil {
		return 0, err
	}
	t.Kernel().SetDomainname(name)
	return 0, nil
}

// maxRWCount is Linux's MAX_RW_COUNT, the most one getrandom returns.
const maxRWCount = 0x7ffff000

// Getrandom implements getrandom(2) from the Sentry's crypto/rand, which
// never blocks once the host has seeded it; GRND_RANDOM and
// GRND_NONBLOCK therefore change nothing, as on Linux 5.6+.
func Getrandom(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	addr, length, flags := args[0].Pointer(), args[1].SizeT(), args[2].Uint()
	const known = abilinux.GRND_NONBLOCK | abilinux.GRND_RANDOM | abilinux.GRND_INSECURE
	if flags&^known != 0 || flags&(abilinux.GRND_RANDOM|abilinux.GRND_INSECURE) == abilinux.GRND_RANDOM|abilinux.GRND_INSECURE {
		return 0, abilinux.EINVAL
	}
	length = min(length, maxRWCount)
	buf := make([]byte, min(length, 64<<10))
	var done uint
	for done < length {
		chunk := buf[:min(uint(len(buf)), length-done)]
		rand.Read(chunk)
		n, err := t.CopyOut(addr+uintptr(done), chunk)
		done += uint(n)
		if err != nil {
			if done == 0 {
				return 0, abilinux.EFAULT
			}
			break
		}
	}
	clear(buf)
	return uintptr(done), nil
}

// Sysinfo implements sysinfo(2): uptime since the sandbox's kernel
// started, its task count, the host's memory less what the application
// allocated. Load averages read 0: the sandbox does not track them.
func Sysinfo(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	k := t.Kernel()
	up := k.Uptime()
	total, free, swap := k.MemoryInfo()
	var loads [3]uint64
	for i, l := range k.LoadAverages() {
		// sysinfo's loads have SI_LOAD_SHIFT (16) fraction bits.
		loads[i] = l << (16 - kernel.LoadFShift)
	}
	si := abilinux.Sysinfo{
		Loads:     loads,
		Uptime:    int64((up + 999_999_999) / 1_000_000_000),
		TotalRAM:  total,
		FreeRAM:   free,
		TotalSwap: swap,
		FreeSwap:  swap,
		Procs:     uint16(min(k.LiveTaskCount(), 0xffff)),
		Unit:      1,
	}
	if err := t.MemoryManager().CopyObjectOut(args[0].Pointer(), &si); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// Personality implements personality(2): 0xffffffff queries, anything
// else is stored and the old value returned, as Linux does.
func Personality(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	p := args[0].Uint()
	if p == abilinux.PER_QUERY {
		return uintptr(t.Personality()), nil
	}
	return uintptr(t.SetPersonality(p)), nil
}

const (
	membarrierCmdGetRegistrations = 1 << 9
	membarrierCmdFlagCPU          = 1
	// membarrierSupported are the commands QUERY reports.
	membarrierSupported = abilinux.MEMBARRIER_CMD_GLOBAL | abilinux.MEMBARRIER_CMD_GLOBAL_EXPEDITED |
		abilinux.MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | abilinux.MEMBARRIER_CMD_PRIVATE_EXPEDITED |
		abilinux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED | membarrierCmdGetRegistrations |
		abilinux.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ | abilinux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ
)

// Membarrier implements membarrier(2) without the SYNC_CORE commands
// (see kernel.Task.Membarrier for how a barrier is made, and
// kernel.Task.MembarrierRseq for the RSEQ command).
func Membarrier(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	cmd, flags := int(args[0].Int()), args[1].Uint()
	if flags != 0 && !(cmd == abilinux.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ && flags == membarrierCmdFlagCPU) {
		return 0, abilinux.EINVAL
	}
	switch cmd {
	case abilinux.MEMBARRIER_CMD_QUERY:
		return membarrierSupported, nil
	case abilinux.MEMBARRIER_CMD_GLOBAL, abilinux.MEMBARRIER_CMD_GLOBAL_EXPEDITED:
		return 0, t.Membarrier(true)
	case abilinux.MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, abilinux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
		abilinux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ:
		t.MembarrierRegister(cmd)
		return 0, nil
	case abilinux.MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ:
		if !t.MembarrierRegistered(abilinux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) {
			return 0, abilinux.EPERM
		}
		// As on Linux, a negative CPU means every CPU.
		cpu := int32(-1)
		if flags&membarrierCmdFlagCPU != 0 {
			cpu = args[2].Int()
		}
		t.MembarrierRseq(cpu)
		return 0, nil
	case abilinux.MEMBARRIER_CMD_PRIVATE_EXPEDITED:
		if !t.MembarrierRegistered(abilinux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
			return 0, abilinux.EPERM
		}
		return 0, t.Membarrier(false)
	case membarrierCmdGetRegistrations:
		return uintptr(t.MembarrierRegistrations()), nil
	}
	return 0, abilinux.EINVAL
}
