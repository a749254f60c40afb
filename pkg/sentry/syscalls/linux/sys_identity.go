package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// Credentials: user and group IDs, supplementary groups, capabilities,
// and nice values (getpriority/setpriority).

// putU32 stores v at addr in the application's memory.
func putU32(t *kernel.Task, addr uintptr, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return abilinux.EFAULT
	}
	return nil
}

// Getuid implements getuid(2).
func Getuid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	return uintptr(c.UserNamespace.MapFromKUID(c.RealKUID)), nil
}

// Geteuid implements geteuid(2).
func Geteuid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	return uintptr(c.UserNamespace.MapFromKUID(c.EffectiveKUID)), nil
}

// Getgid implements getgid(2).
func Getgid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	return uintptr(c.UserNamespace.MapFromKGID(c.RealKGID)), nil
}

// Getegid implements getegid(2).
func Getegid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	return uintptr(c.UserNamespace.MapFromKGID(c.EffectiveKGID)), nil
}

// putResIDs stores three IDs at the three pointers, as getresuid and
// getresgid do (each written on its own, the first fault ending it).
func putResIDs(t *kernel.Task, args arch.SyscallArguments, ids [3]uint32) (uintptr, error) {
	for i, id := range ids {
		if err := putU32(t, args[i].Pointer(), id); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Getresuid implements getresuid(2).
func Getresuid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	ns := c.UserNamespace
	return putResIDs(t, args, [3]uint32{ns.MapFromKUID(c.RealKUID), ns.MapFromKUID(c.EffectiveKUID), ns.MapFromKUID(c.SavedKUID)})
}

// Getresgid implements getresgid(2).
func Getresgid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	ns := c.UserNamespace
	return putResIDs(t, args, [3]uint32{ns.MapFromKGID(c.RealKGID), ns.MapFromKGID(c.EffectiveKGID), ns.MapFromKGID(c.SavedKGID)})
}

// Setuid implements setuid(2).
func Setuid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetUID(args[0].Uint())
}

// Setgid implements setgid(2).
func Setgid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetGID(args[0].Uint())
}

// Setreuid implements setreuid(2).
func Setreuid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetREUID(args[0].Uint(), args[1].Uint())
}

// Setregid implements setregid(2).
func Setregid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetREGID(args[0].Uint(), args[1].Uint())
}

// Setresuid implements setresuid(2).
func Setresuid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetRESUID(kernel.UIDChange{Real: args[0].Uint(), Effective: args[1].Uint(), Saved: args[2].Uint()})
}

// Setresgid implements setresgid(2).
func Setresgid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetRESGID(kernel.UIDChange{Real: args[0].Uint(), Effective: args[1].Uint(), Saved: args[2].Uint()})
}

// Setfsuid implements setfsuid(2): it returns the previous filesystem
// UID whether or not the change was allowed.
func Setfsuid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.SetFSUID(args[0].Uint())), nil
}

// Setfsgid implements setfsgid(2).
func Setfsgid(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.SetFSGID(args[0].Uint())), nil
}

// Getgroups implements getgroups(2).
func Getgroups(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	size := args[0].Int()
	if size < 0 {
		return 0, abilinux.EINVAL
	}
	c := t.Credentials()
	n := len(c.ExtraKGIDs)
	if size == 0 {
		return uintptr(n), nil
	}
	if int(size) < n {
		return 0, abilinux.EINVAL
	}
	buf := make([]byte, 4*n)
	for i, g := range c.ExtraKGIDs {
		binary.LittleEndian.PutUint32(buf[4*i:], c.UserNamespace.MapFromKGID(g))
	}
	if _, err := t.CopyOut(args[1].Pointer(), buf); err != nil {
		return 0, abilinux.EFAULT
	}
	return uintptr(n), nil
}

// Setgroups implements setgroups(2).
func Setgroups(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	size := args[0].Int()
	if !t.Credentials().HasCapability(abilinux.CAP_SETGID) {
		return 0, abilinux.EPERM
	}
	if size < 0 || size > abilinux.NGROUPS_MAX {
		return 0, abilinux.EINVAL
	}
	buf := make([]byte, 4*int(size))
	if _, err := t.CopyIn(args[1].Pointer(), buf); err != nil {
		return 0, abilinux.EFAULT
	}
	gids := make([]uint32, size)
	for i := range gids {
		gids[i] = binary.LittleEndian.Uint32(buf[4*i:])
	}
	return 0, t.SetExtraGIDs(gids)
}

// capVersionWords validates a capability header's version and returns
// how many 32-bit words each set has. An unknown version is EINVAL after
// the preferred version is written back, so callers can probe it.
func capVersionWords(t *kernel.Task, hdrAddr uintptr, hdr *abilinux.CapUserHeader) (int, error) {
	switch hdr.Version {
	case abilinux.LINUX_CAPABILITY_VERSION_1:
		return abilinux.LINUX_CAPABILITY_U32S_1, nil
	case abilinux.LINUX_CAPABILITY_VERSION_2, abilinux.LINUX_CAPABILITY_VERSION_3:
		return abilinux.LINUX_CAPABILITY_U32S_3, nil
	}
	if err := putU32(t, hdrAddr, abilinux.LINUX_CAPABILITY_VERSION_3); err != nil {
		return 0, err
	}
	return 0, abilinux.EINVAL
}

// Capget implements capget(2).
func Capget(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	hdrAddr, dataAddr := args[0].Pointer(), args[1].Pointer()
	var hdr abilinux.CapUserHeader
	if err := t.MemoryManager().CopyObjectIn(hdrAddr, &hdr); err != nil {
		return 0, abilinux.EFAULT
	}
	words, err := capVersionWords(t, hdrAddr, &hdr)
	if dataAddr == 0 {
		// A NULL data pointer only probes the version.
		if err == abilinux.EINVAL {
			return 0, nil
		}
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	if hdr.PID < 0 {
		return 0, abilinux.EINVAL
	}
	c, err := t.CredentialsOf(kernel.ThreadID(hdr.PID))
	if err != nil {
		return 0, err
	}
	return 0, putCapData(t, dataAddr, words, kernel.CapSets{
		Effective: c.EffectiveCaps, Permitted: c.PermittedCaps, Inheritable: c.InheritableCaps,
	})
}

// putCapData writes the sets as words 32-bit halves.
func putCapData(t *kernel.Task, addr uintptr, words int, s kernel.CapSets) error {
	for i := range words {
		d := abilinux.CapUserData{
			Effective:   uint32(s.Effective >> (32 * i)),
			Permitted:   uint32(s.Permitted >> (32 * i)),
			Inheritable: uint32(s.Inheritable >> (32 * i)),
		}
		if err := t.MemoryManager().CopyObjectOut(addr+uintptr(i*d.SizeBytes()), &d); err != nil {
			return abilinux.EFAULT
		}
	}
	return nil
}

// Capset implements capset(2). Only the calling thread's sets may be
// changed.
func Capset(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	hdrAddr, dataAddr := args[0].Pointer(), args[1].Pointer()
	var hdr abilinux.CapUserHeader
	if err := t.MemoryManager().CopyObjectIn(hdrAddr, &hdr); err != nil {
		return 0, abilinux.EFAULT
	}
	words, err := capVersionWords(t, hdrAddr, &hdr)
	if err != nil {
		return 0, err
	}
	if hdr.PID != 0 && kernel.ThreadID(hdr.PID) != t.ThreadID() {
		return 0, abilinux.EPERM
	}
	var s kernel.CapSets
	for i := range words {
		var d abilinux.CapUserData
		if err := t.MemoryManager().CopyObjectIn(dataAddr+uintptr(i*d.SizeBytes()), &d); err != nil {
			return 0, abilinux.EFAULT
		}
		s.Effective |= auth.CapabilitySet(d.Effective) << (32 * i)
		s.Permitted |= auth.CapabilitySet(d.Permitted) << (32 * i)
		s.Inheritable |= auth.CapabilitySet(d.Inheritable) << (32 * i)
	}
	return 0, t.SetCapabilities(s)
}

// Getpriority implements getpriority(2). The raw syscall returns 20 minus
// the nice value (1..40), so success is never negative; libc converts.
func Getpriority(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	nice, err := t.GetPriority(args[0].Int(), args[1].Int())
	if err != nil {
		return 0, err
	}
	return uintptr(20 - nice), nil
}

// Setpriority implements setpriority(2).
func Setpriority(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetPriority(args[0].Int(), args[1].Int(), int(args[2].Int()))
}
