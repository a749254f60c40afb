package main

import (
	"strings"
	"testing"
)

func TestParseSpecAccepts(t *testing.T) {
	const src = `# a comment
# name    amd64 arm64 handler support           note

kexec_load 246   104   -       unsupported:EPERM refused as in an unprivileged container
read       0     63    Read    full
rseq       334   293   -       notimpl
sysfs      139   -     -       unsupported
uname      63    160   Uname   partial           no domainname   |  kept as written
`
	spec, err := ParseSpec(strings.NewReader(src), "test.spec")
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	if got, want := len(spec.Entries), 5; got != want {
		t.Fatalf("got %d entries, want %d", got, want)
	}
	byName := map[string]Entry{}
	for _, e := range spec.Entries {
		byName[e.Name] = e
	}
	if e := byName["read"]; e.Handler != "Read" || e.Level != LevelFull || e.Num("amd64") != 0 || e.Num("arm64") != 63 || e.Line != 5 {
		t.Errorf("read parsed as %+v", e)
	}
	if e := byName["uname"]; e.Note != "no domainname   |  kept as written" {
		t.Errorf("uname note = %q; the note must keep its own spacing", e.Note)
	}
	if e := byName["kexec_load"]; e.Level != LevelUnsupported || e.Errno != "EPERM" || e.Handler != "" {
		t.Errorf("kexec_load parsed as %+v", e)
	}
	if e := byName["sysfs"]; e.Errno != "ENOSYS" || e.Num("arm64") != absent {
		t.Errorf("sysfs parsed as %+v; bare unsupported must mean ENOSYS", e)
	}
	if e := byName["rseq"]; e.Level != LevelNotImpl || e.Errno != "" || e.Note != "" {
		t.Errorf("rseq parsed as %+v", e)
	}
}

func TestParseSpecRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec string
		want []string // substrings of the error, in order of appearance
	}{
		{
			name: "duplicate amd64 number",
			spec: "read 0 63 - notimpl\nwrite 0 64 - notimpl\n",
			want: []string{"t.spec:2: duplicate amd64 number 0: write and read (line 1)"},
		},
		{
			name: "duplicate arm64 number",
			spec: "read 0 63 - notimpl\nwrite 1 63 - notimpl\n",
			want: []string{"t.spec:2: duplicate arm64 number 63: write and read (line 1)"},
		},
		{
			name: "duplicate name",
			spec: "read 0 63 - notimpl\n\nread 1 64 - notimpl\n",
			want: []string{"t.spec:3: duplicate syscall name read (first on line 1)"},
		},
		{
			name: "unknown level",
			spec: "read 0 63 - works\n",
			want: []string{`t.spec:1: read: unknown support level "works"`},
		},
		{
			name: "unknown errno",
			spec: "read 0 63 - unsupported:EWHATEVER\n",
			want: []string{`unknown errno "EWHATEVER"`},
		},
		{
			name: "errno on notimpl",
			spec: "read 0 63 - notimpl:EPERM\n",
			want: []string{"only unsupported takes an errno"},
		},
		{
			name: "missing handler",
			spec: "read 0 63 - full\n",
			want: []string{`t.spec:1: read: support "full" needs a handler`},
		},
		{
			name: "missing handler partial",
			spec: "read 0 63 - partial some flags\n",
			want: []string{`read: support "partial" needs a handler`},
		},
		{
			name: "handler without implementation",
			spec: "read 0 63 Read notimpl\n",
			want: []string{`read: support "notimpl" must not name a handler (got Read)`},
		},
		{
			name: "unexported handler",
			spec: "read 0 63 read full\n",
			want: []string{`handler "read" is not an exported Go identifier`},
		},
		{
			name: "bad number",
			spec: "read zero 63 - notimpl\n",
			want: []string{`read: amd64 number: "zero" is not a decimal number or -`},
		},
		{
			name: "leading zero",
			spec: "read 0 063 - notimpl\n",
			want: []string{`arm64 number: "063" is not a decimal number`},
		},
		{
			name: "number too large",
			spec: "mseal 4620 462 - notimpl\n",
			want: []string{"4620 is above 1023"},
		},
		{
			name: "absent everywhere",
			spec: "ghost - - - notimpl\n",
			want: []string{"ghost: absent on every architecture"},
		},
		{
			name: "too few columns",
			spec: "read 0 63 -\n",
			want: []string{"t.spec:1: want at least 5 columns"},
		},
		{
			name: "bad name",
			spec: "Read 0 63 - notimpl\n",
			want: []string{`syscall name "Read"`},
		},
		{
			name: "out of order",
			spec: "write 1 64 - notimpl\nread 0 63 - notimpl\n",
			want: []string{"t.spec:2: read is out of order: it sorts before write (line 1)"},
		},
		{
			name: "empty",
			spec: "# nothing\n",
			want: []string{"t.spec: no syscalls"},
		},
		{
			name: "every problem reported",
			spec: "close 3 57 - bogus\nread 0 63 - full\nwrite 1 64 - notimpl\nwrite 2 65 - notimpl\n",
			want: []string{"t.spec:1:", "t.spec:2:", "t.spec:4: duplicate syscall name write"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec(strings.NewReader(tc.spec), "t.spec")
			if err == nil {
				t.Fatalf("ParseSpec accepted:\n%s", tc.spec)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q does not contain %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
