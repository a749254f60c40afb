package loader

import (
	"bytes"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Limits of "#!" handling, as in Linux's binfmt_script.
const (
	// scriptBufSize is BINPRM_BUF_SIZE: only this much of the file is
	// read, so the "#!" line including "#!" and the newline is at most
	// this long (its last byte is always dropped when there is no
	// newline).
	scriptBufSize = 256
	// maxInterpDepth is how many times execve may switch to another
	// interpreter file: a script may name a script, and so on, five
	// deep; the sixth script in a chain is ELOOP.
	maxInterpDepth = 5
)

func isSpaceTab(c byte) bool { return c == ' ' || c == '\t' }

// parseScriptLine parses the "#!" line at the start of head (the first
// up-to-256 bytes of the file) into the interpreter path and its optional
// single argument, which runs to the end of the line and keeps internal
// blanks. ok is false when head is not a script at all; err is ENOEXEC for
// a "#!" line naming no interpreter or one that looks truncated.
func parseScriptLine(head []byte) (interp, arg string, ok bool, err error) {
	if len(head) < 2 || head[0] != '#' || head[1] != '!' {
		return "", "", false, nil
	}
	// Work on a zero-filled buffer of the fixed size, as the kernel
	// does: bytes past the end of a short file are NULs and end strings.
	var buf [scriptBufSize]byte
	copy(buf[:], head)
	last := len(buf) - 1
	end := bytes.IndexByte(buf[:], '\n')
	if end < 0 {
		// No newline in the buffer. If the interpreter name runs to
		// the end of it, it was cut: refuse rather than run a
		// prefix of the path.
		i := 2
		for i <= last && isSpaceTab(buf[i]) {
			i++
		}
		if i > last {
			return "", "", true, errorf(linux.ENOEXEC, "#! line is all blanks")
		}
		for i <= last && !isSpaceTab(buf[i]) && buf[i] != 0 {
			i++
		}
		if i > last {
			return "", "", true, errorf(linux.ENOEXEC, "#! interpreter name truncated")
		}
		end = last
	}
	// The line ends at the newline (or the buffer's last byte). Blanks
	// before that end are dropped first, then the line is read as a C
	// string, so a NUL cuts it and blanks before a NUL survive in the
	// argument, exactly as in Linux.
	line := bytes.TrimRight(buf[2:end], " \t")
	if nul := bytes.IndexByte(line, 0); nul >= 0 {
		line = line[:nul]
	}
	line = bytes.TrimLeft(line, " \t")
	if len(line) == 0 {
		return "", "", true, errorf(linux.ENOEXEC, "#! names no interpreter")
	}
	name := line
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		name = line[:i]
		arg = string(bytes.TrimLeft(line[i:], " \t"))
	}
	return string(name), arg, true, nil
}
