package linux

import (
	"bytes"
	"reflect"
	"testing"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/marshal"
)

// Structs that golang.org/x/sys/unix does not define are checked against
// sizes and offsets taken from the C headers with offsetof/sizeof (a probe
// compiled against linux-libc-dev on amd64). Every struct in this table
// has the same layout on arm64: all are made of naturally aligned
// fixed-width fields with no architecture-specific members, which the
// kernel headers define once for both.

type cField struct {
	goField string
	off     uintptr
	size    uintptr
}

type cStruct struct {
	name   string
	size   uintptr
	fields []cField
}

var cStructs = []cStruct{
	{name: "CloneArgs", size: 88, fields: []cField{{"Flags", 0, 8}, {"Pidfd", 8, 8}, {"ChildTID", 16, 8}, {"ParentTID", 24, 8}, {"ExitSignal", 32, 8}, {"Stack", 40, 8}, {"StackSize", 48, 8}, {"TLS", 56, 8}, {"SetTID", 64, 8}, {"SetTIDSize", 72, 8}, {"Cgroup", 80, 8}}},
	{name: "RobustListHead", size: 24, fields: []cField{{"List", 0, 8}, {"FutexOffset", 8, 8}, {"ListOpPending", 16, 8}}},
	{name: "FutexWaitv", size: 24, fields: []cField{{"Val", 0, 8}, {"Uaddr", 8, 8}, {"Flags", 16, 4}}},
	{name: "Rseq", size: 32, fields: []cField{{"CPUIDStart", 0, 4}, {"CPUID", 4, 4}, {"RseqCS", 8, 8}, {"Flags", 16, 4}}},
	{name: "RseqCS", size: 32, fields: []cField{{"Version", 0, 4}, {"Flags", 4, 4}, {"Start", 8, 8}, {"PostCommitOffset", 16, 8}, {"Abort", 24, 8}}},
	{name: "SeccompData", size: 64, fields: []cField{{"Nr", 0, 4}, {"Arch", 4, 4}, {"InstructionPointer", 8, 8}, {"Args", 16, 48}}},
	{name: "SigAction", size: 32, fields: []cField{{"Handler", 0, 8}, {"Flags", 8, 8}, {"Restorer", 16, 8}, {"Mask", 24, 8}}},
	{name: "SignalStack", size: 24, fields: []cField{{"Addr", 0, 8}, {"Flags", 8, 4}, {"Size", 16, 8}}},
	{name: "Sigevent", size: 64, fields: []cField{{"Value", 0, 8}, {"Signo", 8, 4}, {"Notify", 12, 4}, {"Tid", 16, 4}}},
	{name: "ElfHeader64", size: 64, fields: []cField{{"Ident", 0, 16}, {"Type", 16, 2}, {"Machine", 18, 2}, {"Version", 20, 4}, {"Entry", 24, 8}, {"Phoff", 32, 8}, {"Shoff", 40, 8}, {"Flags", 48, 4}, {"Ehsize", 52, 2}, {"Phentsize", 54, 2}, {"Phnum", 56, 2}, {"Shentsize", 58, 2}, {"Shnum", 60, 2}, {"Shstrndx", 62, 2}}},
	{name: "ElfProg64", size: 56, fields: []cField{{"Type", 0, 4}, {"Flags", 4, 4}, {"Off", 8, 8}, {"Vaddr", 16, 8}, {"Paddr", 24, 8}, {"Filesz", 32, 8}, {"Memsz", 40, 8}, {"Align", 48, 8}}},
	{name: "ElfSection64", size: 64, fields: []cField{{"Name", 0, 4}, {"Type", 4, 4}, {"Flags", 8, 8}, {"Addr", 16, 8}, {"Off", 24, 8}, {"Size", 32, 8}, {"Link", 40, 4}, {"Info", 44, 4}, {"Addralign", 48, 8}, {"Entsize", 56, 8}}},
	{name: "AuxEntry", size: 16, fields: []cField{{"Key", 0, 8}, {"Value", 8, 8}}},
	{name: "Termios", size: 36, fields: []cField{{"InputFlags", 0, 4}, {"OutputFlags", 4, 4}, {"ControlFlags", 8, 4}, {"LocalFlags", 12, 4}, {"LineDiscipline", 16, 1}, {"ControlCharacters", 17, 19}}},
	{name: "Termios2", size: 44, fields: []cField{{"InputSpeed", 36, 4}, {"OutputSpeed", 40, 4}}},
	{name: "Timezone", size: 8, fields: []cField{{"Minuteswest", 0, 4}, {"Dsttime", 4, 4}}},
	{name: "FOwnerEx", size: 8, fields: []cField{{"Type", 0, 4}, {"PID", 4, 4}}},
	{name: "Dirent64Header", size: 19, fields: []cField{{"Ino", 0, 8}, {"Off", 8, 8}, {"Reclen", 16, 2}, {"Type", 18, 1}}},
	{name: "SignalInfo", size: 128, fields: []cField{{"Signo", 0, 4}, {"Errno", 4, 4}, {"Code", 8, 4}, {"Fields", 16, 112}}},
	{name: "Sysinfo", size: 112, fields: []cField{{"Uptime", 0, 8}, {"Procs", 80, 2}, {"TotalHigh", 88, 8}, {"Unit", 104, 4}}},
	{name: "Utsname", size: 390, fields: []cField{{"Machine", 260, 65}, {"Domainname", 325, 65}}},
}

var cStructValues = map[string]marshal.Marshallable{
	"CloneArgs":      &CloneArgs{},
	"RobustListHead": &RobustListHead{},
	"FutexWaitv":     &FutexWaitv{},
	"Rseq":           &Rseq{},
	"RseqCS":         &RseqCS{},
	"SeccompData":    &SeccompData{},
	"SigAction":      &SigAction{},
	"SignalStack":    &SignalStack{},
	"Sigevent":       &Sigevent{},
	"ElfHeader64":    &ElfHeader64{},
	"ElfProg64":      &ElfProg64{},
	"ElfSection64":   &ElfSection64{},
	"AuxEntry":       &AuxEntry{},
	"Termios":        &Termios{},
	"Termios2":       &Termios2{},
	"Timezone":       &Timezone{},
	"FOwnerEx":       &FOwnerEx{},
	"Dirent64Header": &Dirent64Header{},
	"SignalInfo":     &SignalInfo{},
	"Sysinfo":        &Sysinfo{},
	"Utsname":        &Utsname{},
}

func TestLayoutMatchesCHeaders(t *testing.T) {
	for _, c := range cStructs {
		t.Run(c.name, func(t *testing.T) {
			m, ok := cStructValues[c.name]
			if !ok {
				t.Fatalf("no value for %s", c.name)
			}
			typ := reflect.TypeOf(m).Elem()
			if uintptr(m.SizeBytes()) != c.size {
				t.Errorf("SizeBytes() = %d, C sizeof = %d", m.SizeBytes(), c.size)
			}
			// Dirent64Header is a prefix of a variable-length record, so
			// its Go size is padded beyond the C offset of d_name.
			if typ.Size() != c.size && c.name != "Dirent64Header" {
				t.Errorf("Go size = %d, C sizeof = %d", typ.Size(), c.size)
			}
			for _, f := range c.fields {
				sf, ok := typ.FieldByName(f.goField)
				if !ok {
					t.Errorf("no field %s", f.goField)
					continue
				}
				if sf.Offset != f.off || sf.Type.Size() != f.size {
					t.Errorf("%s: offset/size %d/%d, C %d/%d", f.goField, sf.Offset, sf.Type.Size(), f.off, f.size)
				}
			}
			checkRoundTrip(t, m)
		})
	}
}

// checkRoundTrip decodes a patterned buffer into m and checks that every
// named field landed where the Go struct declares it, then that encoding
// reproduces the named bytes and zeroes the rest.
func checkRoundTrip(t *testing.T, m marshal.Marshallable) {
	t.Helper()
	size := m.SizeBytes()
	raw := make([]byte, size+3)
	for i := range raw {
		raw[i] = byte(i*29 + 3)
	}
	if rest := m.UnmarshalBytes(raw); len(rest) != 3 {
		t.Errorf("UnmarshalBytes left %d bytes, want 3", len(rest))
	}
	ls := leaves(reflect.TypeOf(m).Elem(), "", 0, nil)
	mem := unsafe.Slice((*byte)(reflect.ValueOf(m).UnsafePointer()), size)
	named := make([]bool, size)
	for _, l := range ls {
		if int(l.off+l.size) > size {
			t.Errorf("%s: field beyond SizeBytes()", l.path)
			continue
		}
		if !bytes.Equal(mem[l.off:l.off+l.size], raw[l.off:l.off+l.size]) {
			t.Errorf("%s: decoded % x, want % x", l.path, mem[l.off:l.off+l.size], raw[l.off:l.off+l.size])
		}
		for i := l.off; i < l.off+l.size; i++ {
			named[i] = true
		}
	}
	dst := bytes.Repeat([]byte{0xaa}, size+3)
	if rest := m.MarshalBytes(dst); len(rest) != 3 {
		t.Errorf("MarshalBytes left %d bytes, want 3", len(rest))
	}
	for i := 0; i < size; i++ {
		if named[i] && dst[i] != raw[i] || !named[i] && dst[i] != 0 {
			t.Errorf("MarshalBytes byte %d = %#x (named=%v), source %#x", i, dst[i], named[i], raw[i])
		}
	}
	if !bytes.Equal(dst[size:], []byte{0xaa, 0xaa, 0xaa}) {
		t.Errorf("MarshalBytes wrote past SizeBytes()")
	}
}
