package devpts

import (
	"context"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// type feeds master input and returns what the replica can read and
// what was echoed.
func typeIn(t *testing.T, l *ldisc, in string) (read, echoed string) {
	t.Helper()
	ctx := context.Background()
	if n, err := l.masterWrite(ctx, vfs.BytesIOSequence([]byte(in)), true); err != nil || n != int64(len(in)) {
		t.Fatalf("masterWrite(%q) = %d, %v", in, n, err)
	}
	buf := make([]byte, 8192)
	for {
		n, err := l.replicaRead(ctx, vfs.BytesIOSequence(buf), true)
		if err != nil || n == 0 {
			break
		}
		read += string(buf[:n])
	}
	if n, err := l.masterRead(ctx, vfs.BytesIOSequence(buf), true); err == nil {
		echoed = string(buf[:n])
	}
	return read, echoed
}

func TestCanonicalEditing(t *testing.T) {
	for _, tc := range []struct {
		name, in, read, echo string
		lflagOff, iflagOn    uint32
	}{
		{name: "erase", in: "ab\x7fc\n", read: "ac\n", echo: "ab\b \bc\r\n"},
		{name: "erase past start", in: "\x7f\x7fa\n", read: "a\n", echo: "a\r\n"},
		{name: "werase", in: "one  two\x17x\n", read: "one  x\n", echo: "one  two\b \b\b \b\b \bx\r\n"},
		{name: "werase punctuation", in: "a.b,\x17\n", read: "a.\n"},
		{name: "kill echoke", in: "abc\x15d\n", read: "d\n", echo: "abc\b \b\b \b\b \bd\r\n"},
		{name: "kill echok", in: "ab\x15\n", read: "\n", echo: "ab^U\r\n\r\n", lflagOff: linux.ECHOKE},
		{name: "erase without echoe", in: "ab\x7f\n", read: "a\n", echo: "ab^?\r\n", lflagOff: linux.ECHOE},
		{name: "tab erase", in: "a\t\x7f\n", read: "a\n", echo: "a\t\b\b\b\b\b\b\b\r\n"},
		{name: "control erase", in: "\x01\x7f\n", read: "\n", echo: "^A\b \b\b \b\r\n"},
		{name: "utf8 erase", in: "é\x7f\n", read: "\n", echo: "é\b \b\r\n", iflagOn: linux.IUTF8},
		{name: "lnext", in: "\x16\x7f\n", read: "\x7f\n", echo: "^\b^?\r\n"},
		{name: "eof mid line", in: "xy\x04", read: "xy", echo: "xy"},
		{name: "no echo", in: "secret\n", read: "secret\n", echo: "", lflagOff: linux.ECHO},
		{name: "signal flushes", in: "abc\x03d\n", read: "d\n", echo: "abc^Cd\r\n"},
		{name: "crnl", in: "a\r", read: "a\n", echo: "a\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sigs []linux.Signal
			l := newLdisc(func(s linux.Signal) { sigs = append(sigs, s) })
			l.termios.LocalFlags &^= tc.lflagOff
			l.termios.InputFlags |= tc.iflagOn
			read, echo := typeIn(t, l, tc.in)
			if read != tc.read {
				t.Errorf("read %q, want %q", read, tc.read)
			}
			if tc.echo != "" || tc.lflagOff == linux.ECHO {
				if echo != tc.echo {
					t.Errorf("echo %q, want %q", echo, tc.echo)
				}
			}
			if tc.name == "signal flushes" && (len(sigs) != 1 || sigs[0] != linux.SIGINT) {
				t.Errorf("signals %v, want [SIGINT]", sigs)
			}
		})
	}
}

func TestCanonicalLineLimit(t *testing.T) {
	l := newLdisc(nil)
	l.termios.LocalFlags &^= linux.ECHO
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	read, _ := typeIn(t, l, string(long)+"\n")
	if len(read) != inputCap {
		t.Fatalf("line of %d bytes, want %d (excess dropped, newline kept)", len(read), inputCap)
	}
}

func TestRawModeSwitch(t *testing.T) {
	l := newLdisc(nil)
	l.termios.LocalFlags &^= linux.ECHO
	ctx := context.Background()
	l.masterWrite(ctx, vfs.BytesIOSequence([]byte("part")), true)
	tm := l.termios
	tm.LocalFlags &^= linux.ICANON
	tm.ControlCharacters[linux.VMIN] = 0
	l.mu.Lock()
	l.setTermiosLocked(tm)
	l.mu.Unlock()
	buf := make([]byte, 16)
	n, err := l.replicaRead(ctx, vfs.BytesIOSequence(buf), false)
	if err != nil || string(buf[:n]) != "part" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	// VMIN 0, VTIME 0 is a poll: nothing there reads 0 at once.
	if n, err := l.replicaRead(ctx, vfs.BytesIOSequence(buf), false); n != 0 || err != nil {
		t.Fatalf("empty poll read = %d, %v", n, err)
	}
	// Non-canonical input is bounded: the writer sees EAGAIN.
	big := make([]byte, 2*inputCap)
	n64, err := l.masterWrite(ctx, vfs.BytesIOSequence(big), true)
	if n64 != inputCap-1 || err != nil {
		t.Fatalf("write into full queue = %d, %v", n64, err)
	}
	if _, err := l.masterWrite(ctx, vfs.BytesIOSequence(big[:1]), true); err != linux.EAGAIN {
		t.Fatalf("write to a full queue = %v, want EAGAIN", err)
	}
}

func TestOutputProcessing(t *testing.T) {
	l := newLdisc(nil)
	ctx := context.Background()
	l.termios.OutputFlags |= linux.XTABS
	l.replicaWrite(ctx, vfs.BytesIOSequence([]byte("ab\tc\n")), true)
	buf := make([]byte, 64)
	n, _ := l.masterRead(ctx, vfs.BytesIOSequence(buf), true)
	if got := string(buf[:n]); got != "ab      c\r\n" {
		t.Fatalf("output %q", got)
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions("newinstance,ptmxmode=0666,mode=620,gid=5")
	if err != nil || o.ptmxMode != 0o666 || o.mode != 0o620 || !o.setGID || o.gid != 5 || o.setUID {
		t.Fatalf("parseOptions = %+v, %v", o, err)
	}
	for _, bad := range []string{"mode=9", "bogus", "gid=x", "size=1"} {
		if _, err := parseOptions(bad); err != linux.EINVAL {
			t.Errorf("parseOptions(%q) = %v, want EINVAL", bad, err)
		}
	}
}
