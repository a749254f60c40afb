package kernel

import (
	"fmt"
	"strconv"
	"strings"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// argKind says how strace prints one syscall argument.
type argKind int

const (
	argHex   argKind = iota // default: a pointer or opaque value
	argInt                  // a signed integer (counts, pids)
	argFD                   // a file descriptor, AT_FDCWD by name
	argPath                 // a NUL-terminated string in application memory
	argOct                  // a file mode
	argOpen                 // open(2) flags
	argSig                  // a signal number
	argBufIn                // a buffer the application passes in; its length is the next argument
)

// straceArgs lists the argument kinds of the syscalls worth decoding.
// Others print as hex, like strace does for an unknown syscall.
var straceArgs = map[string][]argKind{
	"read":       {argFD, argHex, argInt},
	"write":      {argFD, argBufIn, argInt},
	"pread64":    {argFD, argHex, argInt, argInt},
	"pwrite64":   {argFD, argBufIn, argInt, argInt},
	"open":       {argPath, argOpen, argOct},
	"openat":     {argFD, argPath, argOpen, argOct},
	"creat":      {argPath, argOct},
	"close":      {argFD},
	"stat":       {argPath, argHex},
	"lstat":      {argPath, argHex},
	"fstat":      {argFD, argHex},
	"newfstatat": {argFD, argPath, argHex, argHex},
	"statx":      {argFD, argPath, argHex, argHex, argHex},
	"access":     {argPath, argOct},
	"faccessat":  {argFD, argPath, argOct},
	"faccessat2": {argFD, argPath, argOct, argHex},
	"readlink":   {argPath, argHex, argInt},
	"readlinkat": {argFD, argPath, argHex, argInt},
	"execve":     {argPath, argHex, argHex},
	"chdir":      {argPath},
	"mkdir":      {argPath, argOct},
	"mkdirat":    {argFD, argPath, argOct},
	"unlink":     {argPath},
	"unlinkat":   {argFD, argPath, argHex},
	"rmdir":      {argPath},
	"dup":        {argFD},
	"dup2":       {argFD, argFD},
	"dup3":       {argFD, argFD, argHex},
	"lseek":      {argFD, argInt, argInt},
	"getdents64": {argFD, argHex, argInt},
	"kill":       {argInt, argSig},
	"tkill":      {argInt, argSig},
	"tgkill":     {argInt, argInt, argSig},
	"exit":       {argInt},
	"exit_group": {argInt},
	"wait4":      {argInt, argHex, argHex, argHex},
}

// straceMaxString bounds how much of a string or buffer is printed.
const straceMaxString = 32

// straceEnter logs a syscall as it starts.
func (t *Task) straceEnter(sysno uintptr, args arch.SyscallArguments) {
	name := t.syscallName(sysno)
	kinds := straceArgs[name]
	n := len(kinds)
	if n == 0 {
		n = 6
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%5d] %s(", t.ThreadID(), name)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		kind := argHex
		if i < len(kinds) {
			kind = kinds[i]
		}
		var next uintptr
		if i+1 < len(args) {
			next = args[i+1].Value
		}
		b.WriteString(t.straceArg(kind, args[i].Value, next))
	}
	b.WriteString(")")
	log.Infof("%s", b.String())
}

// straceArg renders one argument.
func (t *Task) straceArg(kind argKind, v, next uintptr) string {
	switch kind {
	case argInt:
		return strconv.FormatInt(int64(v), 10)
	case argFD:
		if int32(v) == linux.AT_FDCWD {
			return "AT_FDCWD"
		}
		return strconv.Itoa(int(int32(v)))
	case argOct:
		return fmt.Sprintf("%#o", uint32(v))
	case argSig:
		return linux.Signal(v).String()
	case argOpen:
		return openFlagsString(uint32(v))
	case argPath:
		s, err := t.mm.CopyInString(v, linux.PATH_MAX)
		if err != nil {
			return fmt.Sprintf("%#x", v)
		}
		return quoteTrunc(s)
	case argBufIn:
		buf := make([]byte, min(int(next), straceMaxString+1))
		n, _ := t.mm.CopyIn(v, buf)
		return quoteTrunc(string(buf[:n]))
	}
	return fmt.Sprintf("%#x", v)
}

// quoteTrunc quotes s like strace, eliding the rest of long strings.
func quoteTrunc(s string) string {
	if len(s) > straceMaxString {
		return strconv.Quote(s[:straceMaxString]) + "..."
	}
	return strconv.Quote(s)
}

// openFlagsString renders open(2) flags as strace does.
func openFlagsString(f uint32) string {
	var parts []string
	switch f & linux.O_ACCMODE {
	case linux.O_RDONLY:
		parts = append(parts, "O_RDONLY")
	case linux.O_WRONLY:
		parts = append(parts, "O_WRONLY")
	default:
		parts = append(parts, "O_RDWR")
	}
	for _, fl := range []struct {
		bit  uint32
		name string
	}{
		{linux.O_CREAT, "O_CREAT"}, {linux.O_EXCL, "O_EXCL"}, {linux.O_NOCTTY, "O_NOCTTY"},
		{linux.O_TRUNC, "O_TRUNC"}, {linux.O_APPEND, "O_APPEND"}, {linux.O_NONBLOCK, "O_NONBLOCK"},
		{linux.O_DIRECTORY, "O_DIRECTORY"}, {linux.O_NOFOLLOW, "O_NOFOLLOW"},
		{linux.O_CLOEXEC, "O_CLOEXEC"}, {linux.O_PATH, "O_PATH"},
	} {
		if f&fl.bit == fl.bit {
			parts = append(parts, fl.name)
		}
	}
	return strings.Join(parts, "|")
}

// straceExit logs a syscall's result.
func (t *Task) straceExit(sysno uintptr, rval uintptr, err error) {
	if err != nil && err != errNoReturnValue {
		e := errnoOf(err)
		log.Infof("[%5d] %s = -1 %s (%s)", t.ThreadID(), t.syscallName(sysno), e.Name(), e.Error())
		return
	}
	log.Infof("[%5d] %s = %d (%#x)", t.ThreadID(), t.syscallName(sysno), int64(rval), rval)
}

func (t *Task) syscallName(sysno uintptr) string {
	if e, ok := t.k.SyscallTable.Lookup(sysno); ok {
		return e.Name
	}
	return fmt.Sprintf("syscall_%d", sysno)
}
