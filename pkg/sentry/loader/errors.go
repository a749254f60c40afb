package loader

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// loadError is an errno with the reason, so that logs say why exec failed
// while callers still get the number with errors.As.
type loadError struct {
	errno linux.Errno
	msg   string
}

func (e *loadError) Error() string { return e.msg + ": " + e.errno.Name() }

func (e *loadError) Unwrap() error { return e.errno }

func errorf(errno linux.Errno, format string, args ...any) error {
	return &loadError{errno: errno, msg: fmt.Sprintf(format, args...)}
}

// remapErrno replaces err's errno from with to, keeping the message. It
// turns the main executable's ENOEXEC into the interpreter's ELIBBAD.
func remapErrno(err error, from, to linux.Errno) error {
	if le, ok := err.(*loadError); ok && le.errno == from {
		return &loadError{errno: to, msg: le.msg}
	}
	return err
}
