package proc

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// newSysDir builds /proc/sys: the sysctls programs commonly read. They
// are read-only here; Linux lets root write some of them (hostname,
// pid_max, overcommit_memory, file-max, nr_open), which the sandbox
// does not support changing.
func (fs *filesystem) newSysDir(parentIno uint64) *dir {
	sysIno := fs.staticIno()
	sys := newStaticContents()
	value := func(f func() string) generator {
		return generatorFunc(func(_ context.Context, b *bytes.Buffer) error {
			b.WriteString(f())
			b.WriteByte('\n')
			return nil
		})
	}
	subdir := func(parent *staticContents, parentIno uint64, name string) (*staticContents, uint64) {
		c := newStaticContents()
		ino := fs.staticIno()
		parent.add(name, fs.newDir(ino, parentIno, 0555, nil, c))
		return c, ino
	}
	file := func(c *staticContents, name string, f func() string) {
		c.add(name, fs.newFile(fs.staticIno(), 0444, nil, value(f)))
	}
	k := fs.k

	kern, kernIno := subdir(sys, sysIno, "kernel")
	// The UTS names follow sethostname(2) and agree with uname(2).
	file(kern, "domainname", func() string { u := k.UTSNames(); return utsField(u.Domainname[:]) })
	file(kern, "hostname", func() string { u := k.UTSNames(); return utsField(u.Nodename[:]) })
	file(kern, "osrelease", func() string { u := k.UTSNames(); return utsField(u.Release[:]) })
	file(kern, "ostype", func() string { return "Linux" })
	file(kern, "pid_max", func() string { return fmt.Sprint(kernel.ProcPIDMax) })
	file(kern, "version", func() string { u := k.UTSNames(); return utsField(u.Version[:]) })
	fs.addIPCSysctls(kern) // sys_ipc.go
	random, _ := subdir(kern, kernIno, "random")
	file(random, "boot_id", func() string { return fs.ft.bootID })
	file(random, "uuid", newUUID)

	vm, _ := subdir(sys, sysIno, "vm")
	// The memory manager never refuses a mapping for lack of memory:
	// Linux's "always overcommit" mode.
	file(vm, "overcommit_memory", func() string { return "1" })

	fsDir, _ := subdir(sys, sysIno, "fs")
	// No system-wide limit on open files exists in the sandbox.
	file(fsDir, "file-max", func() string { return fmt.Sprint(int64(math.MaxInt64)) })
	file(fsDir, "nr_open", func() string { return fmt.Sprint(linux.NR_OPEN) })
	fs.addAIOSysctls(file, fsDir) // sys_aio.go

	fs.addNetSysctls(sys, sysIno) // sys_net_ping.go

	return fs.newDir(sysIno, parentIno, 0555, nil, sys)
}

// utsField is a NUL-terminated utsname field as a string.
func utsField(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
