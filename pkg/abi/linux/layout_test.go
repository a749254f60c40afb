package linux

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/marshal"
)

// The tests in this file prove that each struct here has the C layout, by
// comparing it with golang.org/x/sys/unix's cgo-generated equivalent for
// the architecture being built: total size, the offset and size of every
// named field, and that MarshalBytes/UnmarshalBytes move each field to
// and from exactly the bytes where the C struct keeps it.

// leaf is one named scalar or byte-array field, with its offset from the
// start of the outermost struct. Nested structs are flattened and arrays
// of non-byte elements are split per element, so that a field-order
// mistake inside them is caught too.
type leaf struct {
	path string
	off  uintptr
	size uintptr
}

func leaves(t reflect.Type, prefix string, base uintptr, out []leaf) []leaf {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "_" {
			continue
		}
		name := strings.ToLower(strings.ReplaceAll(f.Name, "_", ""))
		if f.Anonymous {
			name = ""
		}
		path := prefix + name
		off := base + f.Offset
		switch ft := f.Type; {
		case ft.Kind() == reflect.Struct:
			p := path
			if p != "" && p != prefix {
				p += "."
			}
			out = leaves(ft, p, off, out)
		case ft.Kind() == reflect.Array && ft.Elem().Size() > 1:
			for j := 0; j < ft.Len(); j++ {
				out = append(out, leaf{path: path + "[" + string(rune('0'+j/10)) + string(rune('0'+j%10)) + "]",
					off: off + uintptr(j)*ft.Elem().Size(), size: ft.Elem().Size()})
			}
		default:
			out = append(out, leaf{path: path, off: off, size: ft.Size()})
		}
	}
	return out
}

type layoutCase struct {
	name   string
	ours   marshal.Marshallable
	theirs any // pointer to the x/sys/unix struct
	// alias maps one of our leaf paths to x/sys's name for it, where the
	// two disagree beyond case and underscores.
	alias map[string]string
	// theirsPadding lists x/sys leaves that are padding we leave unnamed.
	theirsPadding []string
	// oursOnly lists our leaves that x/sys leaves unnamed (e.g. a union
	// it declares as padding).
	oursOnly []string
}

func checkLayout(t *testing.T, c layoutCase) {
	t.Helper()
	ot := reflect.TypeOf(c.ours).Elem()
	tt := reflect.TypeOf(c.theirs).Elem()
	if got, want := ot.Size(), tt.Size(); got != want {
		t.Errorf("%s: Go size %d, C size %d", c.name, got, want)
		return
	}
	if got := c.ours.SizeBytes(); uintptr(got) != tt.Size() {
		t.Errorf("%s: SizeBytes() = %d, C size %d", c.name, got, tt.Size())
		return
	}

	ol := leaves(ot, "", 0, nil)
	tl := leaves(tt, "", 0, nil)
	theirs := map[string]leaf{}
	for _, l := range tl {
		theirs[l.path] = l
	}
	for _, p := range c.theirsPadding {
		if _, ok := theirs[p]; !ok {
			t.Errorf("%s: padding %q not in x/sys type (have %v)", c.name, p, tl)
		}
		delete(theirs, p)
	}
	only := map[string]bool{}
	for _, p := range c.oursOnly {
		only[p] = true
	}
	for _, l := range ol {
		name := l.path
		if a, ok := c.alias[name]; ok {
			name = a
		}
		tlf, ok := theirs[name]
		if !ok {
			if !only[l.path] {
				t.Errorf("%s: our field %q has no x/sys counterpart", c.name, l.path)
			}
			continue
		}
		delete(theirs, name)
		if l.off != tlf.off || l.size != tlf.size {
			t.Errorf("%s.%s: offset/size %d/%d, C %d/%d", c.name, l.path, l.off, l.size, tlf.off, tlf.size)
		}
	}
	for name := range theirs {
		t.Errorf("%s: x/sys field %q missing from our struct", c.name, name)
	}

	// Fill the C struct with a pattern, decode it, and check that every
	// field of ours holds the C bytes at the same place.
	size := int(tt.Size())
	raw := unsafe.Slice((*byte)(reflect.ValueOf(c.theirs).UnsafePointer()), size)
	for i := range raw {
		raw[i] = byte(i*13 + 7)
	}
	src := append(append([]byte(nil), raw...), 1, 2, 3)
	if rest := c.ours.UnmarshalBytes(src); len(rest) != 3 {
		t.Errorf("%s: UnmarshalBytes left %d bytes, want 3", c.name, len(rest))
	}
	mem := unsafe.Slice((*byte)(reflect.ValueOf(c.ours).UnsafePointer()), size)
	for _, l := range ol {
		if got, want := mem[l.off:l.off+l.size], raw[l.off:l.off+l.size]; !bytes.Equal(got, want) {
			t.Errorf("%s.%s: UnmarshalBytes put % x, C bytes are % x", c.name, l.path, got, want)
		}
	}

	// Encode and check that named bytes match C and padding is zeroed.
	dst := bytes.Repeat([]byte{0xaa}, size+3)
	if rest := c.ours.MarshalBytes(dst); len(rest) != 3 {
		t.Errorf("%s: MarshalBytes left %d bytes, want 3", c.name, len(rest))
	}
	named := make([]bool, size)
	for _, l := range ol {
		for i := l.off; i < l.off+l.size; i++ {
			named[i] = true
		}
	}
	for i := 0; i < size; i++ {
		switch {
		case named[i] && dst[i] != raw[i]:
			t.Errorf("%s: MarshalBytes byte %d = %#x, want %#x", c.name, i, dst[i], raw[i])
		case !named[i] && dst[i] != 0:
			t.Errorf("%s: MarshalBytes left padding byte %d = %#x, want 0", c.name, i, dst[i])
		}
	}
	if !bytes.Equal(dst[size:], []byte{0xaa, 0xaa, 0xaa}) {
		t.Errorf("%s: MarshalBytes wrote past SizeBytes()", c.name)
	}
}

func TestLayoutMatchesXSys(t *testing.T) {
	for _, c := range []layoutCase{
		{name: "Timespec", ours: &Timespec{}, theirs: &unix.Timespec{}},
		{name: "Timeval", ours: &Timeval{}, theirs: &unix.Timeval{}},
		{name: "Itimerspec", ours: &Itimerspec{}, theirs: &unix.ItimerSpec{}},
		{name: "Itimerval", ours: &Itimerval{}, theirs: &unix.Itimerval{}},
		{name: "Tms", ours: &Tms{}, theirs: &unix.Tms{}},
		{name: "Stat", ours: &Stat{}, theirs: &unix.Stat_t{}, alias: map[string]string{
			"atime.sec": "atim.sec", "atime.nsec": "atim.nsec", "mtime.sec": "mtim.sec",
			"mtime.nsec": "mtim.nsec", "ctime.sec": "ctim.sec", "ctime.nsec": "ctim.nsec",
		}},
		{name: "Statx", ours: &Statx{}, theirs: &unix.Statx_t{}},
		{name: "Statfs", ours: &Statfs{}, theirs: &unix.Statfs_t{}, alias: map[string]string{
			"blocksize": "bsize", "blocksfree": "bfree", "blocksavailable": "bavail",
			"filesfree": "ffree", "fsid[00]": "fsid.val[00]",
			"fsid[01]": "fsid.val[01]", "namelength": "namelen", "fragmentsize": "frsize",
		}, theirsPadding: []string{"spare[00]", "spare[01]", "spare[02]", "spare[03]"}},
		{name: "OpenHow", ours: &OpenHow{}, theirs: &unix.OpenHow{}},
		{name: "Flock", ours: &Flock{}, theirs: &unix.Flock_t{}},
		{name: "EpollEvent", ours: &EpollEvent{}, theirs: &unix.EpollEvent{},
			alias: map[string]string{"data[00]": "fd", "data[01]": "pad"}, theirsPadding: epollTheirsPadding},
		{name: "PollFD", ours: &PollFD{}, theirs: &unix.PollFd{}},
		{name: "Rusage", ours: &Rusage{}, theirs: &unix.Rusage{}},
		{name: "Rlimit", ours: &Rlimit{}, theirs: &unix.Rlimit{}},
		{name: "Sysinfo", ours: &Sysinfo{}, theirs: &unix.Sysinfo_t{}, theirsPadding: []string{"pad"}},
		{name: "Utsname", ours: &Utsname{}, theirs: &unix.Utsname{}},
		{name: "Iovec", ours: &Iovec{}, theirs: &unix.Iovec{}},
		{name: "Termios2", ours: &Termios2{}, theirs: &unix.Termios{}, alias: map[string]string{
			"inputflags": "iflag", "outputflags": "oflag", "controlflags": "cflag",
			"localflags": "lflag", "linediscipline": "line", "controlcharacters": "cc",
			"inputspeed": "ispeed", "outputspeed": "ospeed",
		}},
		{name: "Winsize", ours: &Winsize{}, theirs: &unix.Winsize{}},
		{name: "CapUserHeader", ours: &CapUserHeader{}, theirs: &unix.CapUserHeader{}},
		{name: "CapUserData", ours: &CapUserData{}, theirs: &unix.CapUserData{}},
		{name: "SockFilter", ours: &SockFilter{}, theirs: &unix.SockFilter{}},
		{name: "SockFprog", ours: &SockFprog{}, theirs: &unix.SockFprog{}},
		{name: "PtraceRegs", ours: &PtraceRegs{}, theirs: &unix.PtraceRegs{}},
		{name: "SignalInfo", ours: &SignalInfo{}, theirs: &unix.Siginfo{}, oursOnly: []string{"fields"}},
		{name: "SignalfdSiginfo", ours: &SignalfdSiginfo{}, theirs: &unix.SignalfdSiginfo{}},
	} {
		t.Run(c.name, func(t *testing.T) { checkLayout(t, c) })
	}
}

// TestLP64 guards the assumption, made throughout the package, that
// pointers and longs are 64 bits.
func TestLP64(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 || unsafe.Sizeof(unix.Timespec{}.Nsec) != 8 {
		t.Fatal("not an LP64 target")
	}
}
