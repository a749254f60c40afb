package kernel

import (
	"fmt"
	"strings"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// straceEnter logs a syscall as it starts, in strace's shape: raw
// arguments in hex, since decoding each argument type is per syscall.
func (t *Task) straceEnter(sysno uintptr, args arch.SyscallArguments) {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d] %s(", t.ThreadID(), t.syscallName(sysno))
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%#x", a.Value)
	}
	b.WriteString(")")
	log.Infof("%s", b.String())
}

// straceExit logs a syscall's result.
func (t *Task) straceExit(sysno uintptr, rval uintptr, err error) {
	if err != nil && err != errNoReturnValue {
		e := errnoOf(err)
		log.Infof("[%d] %s = -1 %s (%s)", t.ThreadID(), t.syscallName(sysno), e.Name(), e.Error())
		return
	}
	log.Infof("[%d] %s = %#x", t.ThreadID(), t.syscallName(sysno), rval)
}

func (t *Task) syscallName(sysno uintptr) string {
	if e, ok := t.k.SyscallTable.Lookup(sysno); ok {
		return e.Name
	}
	return fmt.Sprintf("syscall_%d", sysno)
}
