package devpts

import (
	"context"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// This file is the line discipline of a pty pair (Linux's N_TTY): what
// the master writes is input, edited and echoed under the replica's
// termios and read by the replica; what the replica writes is output,
// post-processed and read by the master. termios(3) is the
// specification; the numbers follow Linux's n_tty.

const (
	// inputCap is the replica's input buffer (N_TTY_BUF_SIZE): at most
	// inputCap-1 bytes wait to be read in non-canonical mode, and a
	// canonical line holds at most inputCap-1 characters plus its
	// terminator.
	inputCap = 4096
	// outputCap bounds what the replica has written and the master not
	// yet read; a replica writer blocks beyond it. Echoes may exceed it
	// by echoSlack, past which they are dropped.
	outputCap  = 16 << 10
	echoSlack  = 4 << 10
	chunkBytes = 4 << 10
)

// ldisc is the state of a pty pair shared by both ends.
//
// +stateify savable
type ldisc struct {
	// mu guards every field below except the queues.
	mu sync.Mutex `state:"nosave"`

	termios linux.Termios
	// ispeed and ospeed are the termios2 speeds.
	ispeed, ospeed uint32
	winsize        linux.Winsize

	// in holds input the replica can read: in canonical mode complete
	// lines only, whose lengths (terminator included; 0 for an
	// end-of-file mark) are lines.
	in    byteQueue
	lines []int
	// line is the canonical line being edited.
	line []byte
	// lineCol is the output column where the echo of line started, for
	// erasing tabs.
	lineCol int
	// lnext is set after VLNEXT: the next input byte is literal.
	lnext bool

	// out holds output (and echoes) the master can read.
	out byteQueue
	// column is the output column (OPOST's tab and CR handling).
	column int
	// stopped is set while output is suspended (VSTOP under IXON, or
	// TCOOFF); replica writes wait.
	stopped bool

	// hungUp is set once the master is closed: the replica reads end of
	// file and fails other operations with EIO.
	hungUp bool
	// replicaOpened and replicas track the replica's opens: once it was
	// opened and every file closed, master reads end with EIO.
	replicaOpened bool
	replicas      int

	// masterQ and replicaQ are the two ends' waiters. Notifications are
	// sent after mu is released (see unlock).
	masterQ, replicaQ waiter.Queue
	// pendingMaster and pendingReplica are events to notify at unlock.
	pendingMaster, pendingReplica waiter.EventMask

	// signal sends a signal to the foreground process group (VINTR,
	// VQUIT, VSUSP).
	signal func(linux.Signal) `state:"nosave"`
}

func newLdisc(signal func(linux.Signal)) *ldisc {
	l := &ldisc{termios: linux.DefaultTermios, signal: signal}
	l.ispeed, l.ospeed = 38400, 38400
	return l
}

// unlock releases mu and sends the notifications accumulated under it.
func (l *ldisc) unlock() {
	m, r := l.pendingMaster, l.pendingReplica
	l.pendingMaster, l.pendingReplica = 0, 0
	l.mu.Unlock()
	if m != 0 {
		l.masterQ.Notify(m)
	}
	if r != 0 {
		l.replicaQ.Notify(r)
	}
}

// waitLocked sleeps until q reports mask, deadline passes (if not zero) or
// the caller is interrupted, with mu released meanwhile.
func (l *ldisc) waitLocked(ctx context.Context, q *waiter.Queue, mask waiter.EventMask, deadline time.Time) error {
	e, ch := waiter.NewChannelEntry(mask)
	q.EventRegister(e)
	l.unlock()
	b := vfs.BlockerFromContext(ctx)
	var err error
	if deadline.IsZero() {
		err = b.Block(ch)
	} else {
		err = b.BlockWithDeadline(ch, deadline)
	}
	q.EventUnregister(e)
	l.mu.Lock()
	return err
}

func (l *ldisc) lflag(f uint32) bool { return l.termios.LocalFlags&f != 0 }
func (l *ldisc) iflag(f uint32) bool { return l.termios.InputFlags&f != 0 }
func (l *ldisc) oflag(f uint32) bool { return l.termios.OutputFlags&f != 0 }

// cc reports whether c is the enabled control character i.
func (l *ldisc) cc(i int, c byte) bool {
	v := l.termios.ControlCharacters[i]
	return v != 0 && v == c
}

func isCntrl(c byte) bool { return c < 0x20 || c == 0x7f }
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
func (l *ldisc) isCont(c byte) bool { return l.iflag(linux.IUTF8) && c&0xc0 == 0x80 }

// Output.

// outputLocked appends c to the master's queue with output processing
// (OPOST and its flags) and column tracking.
func (l *ldisc) outputLocked(c byte) {
	if !l.oflag(linux.OPOST) {
		l.out.push(c)
		return
	}
	switch c {
	case '\n':
		if l.oflag(linux.ONLRET) {
			l.column = 0
		}
		if l.oflag(linux.ONLCR) {
			l.column = 0
			l.out.push('\r', '\n')
			return
		}
	case '\r':
		if l.oflag(linux.ONOCR) && l.column == 0 {
			return
		}
		if l.oflag(linux.OCRNL) {
			c = '\n'
			if l.oflag(linux.ONLRET) {
				l.column = 0
			}
			break
		}
		l.column = 0
	case '\t':
		spaces := 8 - l.column&7
		l.column += spaces
		if l.termios.OutputFlags&linux.TABDLY == linux.XTABS {
			for range spaces {
				l.out.push(' ')
			}
			return
		}
	case '\b':
		if l.column > 0 {
			l.column--
		}
	default:
		if !isCntrl(c) {
			if l.oflag(linux.OLCUC) && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			if !l.isCont(c) {
				l.column++
			}
		}
	}
	l.out.push(c)
}

// echoRoom reports whether an echo of n bytes fits.
func (l *ldisc) echoRoom(n int) bool { return l.out.len()+n <= outputCap+echoSlack }

// echoLocked echoes input byte c as typed: control characters as ^X
// under ECHOCTL (except tab and newline), others through output
// processing.
func (l *ldisc) echoLocked(c byte) {
	if !l.echoRoom(2) {
		return
	}
	if l.lflag(linux.ECHOCTL) && isCntrl(c) && c != '\t' && c != '\n' {
		l.out.push('^', c^0o100)
		l.column += 2
	} else {
		l.outputLocked(c)
	}
	l.pendingMaster |= waiter.ReadableEvents
}

// echoRawLocked echoes c through output processing without the ^X form.
func (l *ldisc) echoRawLocked(c byte) {
	if !l.echoRoom(2) {
		return
	}
	l.outputLocked(c)
	l.pendingMaster |= waiter.ReadableEvents
}

// Input.

// inputRoom reports whether another byte of input can be taken now: in
// canonical mode, unless complete lines fill the buffer (then the writer
// waits for a reader), input is always taken and editing keys keep
// working; in non-canonical mode the buffer must have room.
func (l *ldisc) inputRoom() bool {
	if l.lflag(linux.ICANON) {
		return len(l.lines) == 0 || l.in.len()+len(l.line) < inputCap-1
	}
	return l.in.len() < inputCap-1
}

// receiveLocked processes one byte written by the master. It returns
// false, consuming nothing, if the input buffer is full.
func (l *ldisc) receiveLocked(c byte) bool {
	if !l.inputRoom() {
		return false
	}
	if l.iflag(linux.ISTRIP) {
		c &= 0x7f
	}
	if l.lnext {
		l.lnext = false
		if l.lflag(linux.ECHO) {
			l.echoLineCharLocked(c)
		}
		l.storeLocked(c)
		return true
	}
	if l.iflag(linux.IXON) {
		switch {
		case l.cc(linux.VSTOP, c) && l.cc(linux.VSTART, c):
			l.setStoppedLocked(!l.stopped)
			return true
		case l.cc(linux.VSTOP, c):
			l.setStoppedLocked(true)
			return true
		case l.cc(linux.VSTART, c):
			l.setStoppedLocked(false)
			return true
		}
	}
	if l.lflag(linux.ISIG) {
		for _, s := range [...]struct {
			i   int
			sig linux.Signal
		}{{linux.VINTR, linux.SIGINT}, {linux.VQUIT, linux.SIGQUIT}, {linux.VSUSP, linux.SIGTSTP}} {
			if l.cc(s.i, c) {
				l.signalCharLocked(c, s.sig)
				return true
			}
		}
	}
	if l.stopped && l.iflag(linux.IXON) && l.iflag(linux.IXANY) {
		l.setStoppedLocked(false)
	}
	if c == '\r' {
		if l.iflag(linux.IGNCR) {
			return true
		}
		if l.iflag(linux.ICRNL) {
			c = '\n'
		}
	} else if c == '\n' && l.iflag(linux.INLCR) {
		c = '\r'
	}
	if l.lflag(linux.ICANON) {
		iexten := l.lflag(linux.IEXTEN)
		switch {
		case l.cc(linux.VERASE, c), l.cc(linux.VKILL, c), iexten && l.cc(linux.VWERASE, c):
			l.eraseLocked(c)
			return true
		case iexten && l.cc(linux.VLNEXT, c):
			l.lnext = true
			if l.lflag(linux.ECHO) {
				l.echoRawLocked('^')
				l.echoRawLocked('\b')
			}
			return true
		case iexten && l.lflag(linux.ECHO) && l.cc(linux.VREPRINT, c):
			l.echoLocked(c)
			l.echoRawLocked('\n')
			l.lineCol = l.column
			for _, b := range l.line {
				l.echoLocked(b)
			}
			return true
		case c == '\n':
			if l.lflag(linux.ECHO) || l.lflag(linux.ECHONL) {
				l.echoRawLocked('\n')
			}
			l.endLineLocked(c, true)
			return true
		case l.cc(linux.VEOF, c):
			l.endLineLocked(0, false)
			return true
		case l.cc(linux.VEOL, c), iexten && l.cc(linux.VEOL2, c):
			if l.lflag(linux.ECHO) {
				l.echoLineCharLocked(c)
			}
			l.endLineLocked(c, true)
			return true
		}
	}
	if l.lflag(linux.ECHO) {
		if c == '\n' {
			l.echoRawLocked('\n')
		} else {
			l.echoLineCharLocked(c)
		}
	}
	l.storeLocked(c)
	return true
}

// echoLineCharLocked echoes c, noting where a canonical line's echo began.
func (l *ldisc) echoLineCharLocked(c byte) {
	if len(l.line) == 0 {
		l.lineCol = l.column
	}
	l.echoLocked(c)
}

// storeLocked adds an ordinary input byte: to the line being edited, or
// to the readable input in non-canonical mode.
func (l *ldisc) storeLocked(c byte) {
	if l.lflag(linux.ICANON) {
		// A full line keeps its characters; the excess is lost, as
		// Linux loses it, until a terminator ends the line.
		if l.in.len()+len(l.line) < inputCap-1 {
			l.line = append(l.line, c)
		}
		return
	}
	l.in.push(c)
	l.pendingReplica |= waiter.ReadableEvents
}

// endLineLocked completes the canonical line, with c appended if withChar
// (a VEOF ends it without a character; at the start of a line that reads
// as end of file).
func (l *ldisc) endLineLocked(c byte, withChar bool) {
	if withChar {
		l.line = append(l.line, c)
	}
	l.in.push(l.line...)
	l.lines = append(l.lines, len(l.line))
	l.line = l.line[:0]
	l.pendingReplica |= waiter.ReadableEvents
}

// signalCharLocked handles VINTR/VQUIT/VSUSP: the foreground group gets
// sig, pending input is discarded unless NOFLSH, and the character is
// echoed.
func (l *ldisc) signalCharLocked(c byte, sig linux.Signal) {
	if l.signal != nil {
		l.signal(sig)
	}
	if !l.lflag(linux.NOFLSH) {
		l.flushInputLocked()
	}
	if l.iflag(linux.IXON) {
		l.setStoppedLocked(false)
	}
	if l.lflag(linux.ECHO) {
		l.echoLocked(c)
	}
}

// eraseLocked implements VERASE, VWERASE and VKILL on the line being
// edited, with their echoes (ECHOE, ECHOK, ECHOKE, ECHOCTL).
func (l *ldisc) eraseLocked(c byte) {
	kill := l.cc(linux.VKILL, c)
	werase := !kill && !l.cc(linux.VERASE, c)
	if len(l.line) == 0 {
		return
	}
	echo := l.lflag(linux.ECHO)
	if kill {
		if !echo {
			l.line = l.line[:0]
			return
		}
		if !l.lflag(linux.ECHOK) || !l.lflag(linux.ECHOKE) || !l.lflag(linux.ECHOE) {
			l.line = l.line[:0]
			l.echoLocked(c)
			if l.lflag(linux.ECHOK) {
				l.echoRawLocked('\n')
			}
			return
		}
	}
	seenAlnum := false
	for len(l.line) > 0 {
		// A UTF-8 character goes whole.
		end := len(l.line) - 1
		for end > 0 && l.isCont(l.line[end]) {
			end--
		}
		ch := l.line[end]
		if werase {
			if isAlnum(ch) || ch == '_' {
				seenAlnum = true
			} else if seenAlnum {
				break
			}
		}
		l.line = l.line[:end]
		if echo {
			switch {
			case !kill && !werase && !l.lflag(linux.ECHOE):
				l.echoLocked(c)
			case ch == '\t':
				col := l.lineColumnLocked()
				for range 8 - col&7 {
					l.echoRawLocked('\b')
				}
			default:
				n := 1
				if isCntrl(ch) {
					n = 0
					if l.lflag(linux.ECHOCTL) {
						n = 2
					}
				}
				for range n {
					l.echoRawLocked('\b')
					l.echoRawLocked(' ')
					l.echoRawLocked('\b')
				}
			}
		}
		if !kill && !werase {
			break
		}
	}
}

// lineColumnLocked is the echo column just past the line being edited,
// computed from where its echo began.
func (l *ldisc) lineColumnLocked() int {
	col := l.lineCol
	for _, b := range l.line {
		switch {
		case b == '\t':
			col = col | 7 + 1
		case isCntrl(b):
			if l.lflag(linux.ECHOCTL) {
				col += 2
			}
		case !l.isCont(b):
			col++
		}
	}
	return col
}

// flushInputLocked discards the replica's pending input.
func (l *ldisc) flushInputLocked() {
	l.in.reset()
	l.lines = nil
	l.line = l.line[:0]
	l.lnext = false
	l.pendingMaster |= waiter.WritableEvents
}

// flushOutputLocked discards output the master has not read.
func (l *ldisc) flushOutputLocked() {
	l.out.reset()
	l.pendingReplica |= waiter.WritableEvents
}

func (l *ldisc) setStoppedLocked(stopped bool) {
	if l.stopped && !stopped {
		l.pendingReplica |= waiter.WritableEvents
	}
	l.stopped = stopped
}

// setTermiosLocked installs new settings. Switching canonical mode off
// makes the line being edited readable; switching it on makes what is
// pending one line, as Linux does.
func (l *ldisc) setTermiosLocked(t linux.Termios) {
	old := l.termios
	l.termios = t
	if (old.LocalFlags^t.LocalFlags)&linux.ICANON != 0 {
		if t.LocalFlags&linux.ICANON == 0 {
			l.in.push(l.line...)
			l.line = l.line[:0]
			l.lines = nil
		} else if n := l.in.len(); n > 0 {
			l.lines = []int{n}
		} else {
			l.lines = nil
		}
		l.lnext = false
		l.pendingReplica |= waiter.ReadableEvents
		l.pendingMaster |= waiter.WritableEvents
	}
	if old.InputFlags&linux.IXON != 0 && t.InputFlags&linux.IXON == 0 {
		l.setStoppedLocked(false)
	}
	if cs, ok := baudSpeed(t.ControlFlags & linux.CBAUD); ok {
		l.ospeed = cs
	}
	if cs, ok := baudSpeed(t.ControlFlags >> linux.IBSHIFT & linux.CBAUD); ok && cs != 0 {
		l.ispeed = cs
	} else {
		l.ispeed = l.ospeed
	}
}

// baudSpeeds are the Bnnn codes' speeds, indexed by code (low part) for
// B0..B38400 and by code-CBAUDEX+16 for B57600 and up.
var baudSpeeds = [...]uint32{
	0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400,
	0, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000,
	2000000, 2500000, 3000000, 3500000, 4000000,
}

// baudSpeed returns the speed of a Bnnn code; BOTHER has none.
func baudSpeed(code uint32) (uint32, bool) {
	if code == linux.BOTHER {
		return 0, false
	}
	i := code & 0xf
	if code&linux.CBAUDEX != 0 {
		i += 16
	}
	return baudSpeeds[i], true
}

// Input readiness, as n_tty's input_available_p: a complete line in
// canonical mode; otherwise VMIN bytes for a poll when VTIME is 0, else
// one.
func (l *ldisc) replicaReadableLocked(forPoll bool) bool {
	if l.lflag(linux.ICANON) {
		return len(l.lines) > 0
	}
	need := 1
	cc := &l.termios.ControlCharacters
	if forPoll && cc[linux.VTIME] == 0 && cc[linux.VMIN] > 0 {
		need = int(cc[linux.VMIN])
	}
	return l.in.len() >= need
}

// inputAvailable is TIOCINQ on the replica: in canonical mode the bytes
// of complete lines only.
func (l *ldisc) inputAvailableLocked() int {
	return l.in.len()
}
