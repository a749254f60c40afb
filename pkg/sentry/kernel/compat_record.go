package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// The compatibility recorder notes what a program used that the sandbox
// does not fully support: syscalls without a handler or with a partial
// one, and requests and options that handlers refuse because they do not
// implement them. For each it keeps a count and where the program first
// did it. `runsc compat` and `runsc debug --compat` report it.
//
// Syscalls are recorded on the dispatch path, so the common case (a
// fully supported call, or one already seen) costs one load of a
// read-only flag; the first occurrence takes the slow path once. Other
// records come from failing calls and take a lock.

// CompatKind is what kind of thing a record is about.
type CompatKind string

// The kinds.
const (
	// CompatSyscall: ID is the syscall number.
	CompatSyscall CompatKind = "syscall"
	// CompatIoctl: ID is the request; Detail the kind of file.
	CompatIoctl CompatKind = "ioctl"
	// CompatPrctl: ID is the option.
	CompatPrctl CompatKind = "prctl"
	// CompatFcntl: ID is the command.
	CompatFcntl CompatKind = "fcntl"
	// CompatSockopt: ID is level<<32 | option name; Detail says get or
	// set.
	CompatSockopt CompatKind = "sockopt"
	// CompatPath: Detail is a /proc or /sys path that did not resolve.
	CompatPath CompatKind = "path"
)

// CompatSite is where a program first did something.
type CompatSite struct {
	// PID and TID are the root PID namespace's IDs of the caller.
	PID  int32  `json:"pid"`
	TID  int32  `json:"tid"`
	Comm string `json:"comm"`
	// PC is the application's program counter at the call (after the
	// syscall instruction).
	PC uint64 `json:"pc"`
	// File is the name of the mapping holding PC ("" if none), and
	// Offset PC's offset in it as /proc/PID/maps describes the mapping.
	File   string `json:"file,omitempty"`
	Offset uint64 `json:"offset"`
}

// CompatRecord is one unsupported thing a program used.
type CompatRecord struct {
	Kind CompatKind `json:"kind"`
	ID   uint64     `json:"id"`
	// Name is the syscall's name for CompatSyscall.
	Name   string `json:"name,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Support is the syscall's support level (notimpl, unsupported,
	// partial), or "unknown" for a number that is no syscall; empty for
	// other kinds, which are all refusals.
	Support string `json:"support,omitempty"`
	// Note explains a syscall's state, from the syscall table.
	Note  string     `json:"note,omitempty"`
	Count uint64     `json:"count"`
	First CompatSite `json:"first"`
}

// maxCompatRecords bounds the recorder: the keys come from the
// application, which must not grow the Sentry's memory without limit.
const maxCompatRecords = 1024

type compatKey struct {
	kind   CompatKind
	id     uint64
	detail string
}

type compatEntry struct {
	count uint64
	first CompatSite
}

var (
	// compatWatch[n] is set, at initialisation, for syscall numbers
	// whose calls are recorded: those without full support.
	compatWatch [syscallCounterSlots]bool
	// compatSeen[n] is set once syscall n's first call was recorded.
	compatSeen [syscallCounterSlots]atomic.Bool

	// compatMu guards compatRecords and compatOverflow.
	compatMu       sync.Mutex
	compatRecords  = make(map[compatKey]*compatEntry)
	compatOverflow uint64
)

// watchSyscallsForCompat marks the syscalls of table that are not fully
// supported; RegisterSyscallMetrics calls it.
func watchSyscallsForCompat(table *SyscallTable) {
	for sysno, s := range table.All() {
		if sysno < syscallCounterSlots && s.Support != SupportFull {
			compatWatch[sysno] = true
		}
	}
	for n := range compatWatch {
		if _, ok := table.Lookup(uintptr(n)); !ok {
			compatWatch[n] = true
		}
	}
}

// noteCompatSyscall records the first call of a watched syscall (and
// every call of a number beyond the counters).
func (t *Task) noteCompatSyscall(sysno uintptr) {
	if sysno >= syscallCounterSlots {
		t.recordCompat(CompatSyscall, uint64(sysno), "")
		return
	}
	if compatSeen[sysno].Load() || !compatSeen[sysno].CompareAndSwap(false, true) {
		return
	}
	site := t.compatSite()
	compatMu.Lock()
	defer compatMu.Unlock()
	// Counted from the syscall counters when reported.
	compatRecords[compatKey{kind: CompatSyscall, id: uint64(sysno)}] = &compatEntry{first: site}
}

// RecordUnsupported notes that t used something of kind id that a
// handler refused because the sandbox does not implement it. detail
// distinguishes records of the same id (a file type, a direction).
func (t *Task) RecordUnsupported(kind CompatKind, id uint64, detail string) {
	t.recordCompat(kind, id, detail)
}

func (t *Task) recordCompat(kind CompatKind, id uint64, detail string) {
	key := compatKey{kind, id, detail}
	compatMu.Lock()
	if e := compatRecords[key]; e != nil {
		e.count++
		compatMu.Unlock()
		return
	}
	compatMu.Unlock()
	// The site is found without the lock: it reads the task's memory
	// map. Two first calls racing both find one; either is first.
	site := t.compatSite()
	compatMu.Lock()
	defer compatMu.Unlock()
	if e := compatRecords[key]; e != nil {
		e.count++
		return
	}
	if len(compatRecords) >= maxCompatRecords {
		compatOverflow++
		return
	}
	compatRecords[key] = &compatEntry{count: 1, first: site}
}

// RecordIoctlFailure records an ioctl request a file refused with ENOTTY,
// Linux's answer for a request the file does not know. Terminal requests
// on files that are not terminals are left out: ENOTTY is then what Linux
// answers too (isatty(3) relies on it).
func (t *Task) RecordIoctlFailure(f *vfs.FileDescription, req uint32, err error) {
	if err == nil || !isErrno(err, linux.ENOTTY) {
		return
	}
	typ := f.Inode().Type() & linux.S_IFMT
	kind := fileKindName(typ)
	if typ == linux.S_IFCHR {
		sx, serr := f.Stat(t.Context(), vfs.StatOptions{Mask: linux.STATX_TYPE})
		if serr == nil {
			kind = fmt.Sprintf("character device %d:%d", sx.RdevMajor, sx.RdevMinor)
			if (req>>8)&0xff == 'T' && !isTTYMajor(sx.RdevMajor) {
				return
			}
		}
	} else if (req>>8)&0xff == 'T' {
		return
	}
	t.recordCompat(CompatIoctl, uint64(req), kind)
}

// isErrno reports whether err is errno e, in either errno type.
func isErrno(err error, e linux.Errno) bool {
	var le linux.Errno
	if errors.As(err, &le) {
		return le == e
	}
	var se syscall.Errno
	return errors.As(err, &se) && linux.Errno(se) == e
}

// isTTYMajor: the majors of terminals (Documentation/admin-guide/devices.txt):
// 4 (virtual consoles, serial), 5 (/dev/tty, /dev/console, /dev/ptmx),
// 136-143 (Unix98 pty replicas).
func isTTYMajor(major uint32) bool {
	return major == 4 || major == 5 || (major >= 136 && major <= 143)
}

func fileKindName(typ linux.FileMode) string {
	switch typ {
	case linux.S_IFREG:
		return "regular file"
	case linux.S_IFDIR:
		return "directory"
	case linux.S_IFCHR:
		return "character device"
	case linux.S_IFBLK:
		return "block device"
	case linux.S_IFIFO:
		return "pipe"
	case linux.S_IFSOCK:
		return "socket"
	case linux.S_IFLNK:
		return "symbolic link"
	}
	return "anonymous file"
}

// compatSite describes where t is now. Only t's goroutine calls it.
func (t *Task) compatSite() CompatSite {
	s := CompatSite{Comm: t.procComm(), PC: uint64(t.ac.IP())}
	k := t.k
	k.tasksMu.RLock()
	s.TID = int32(k.rootPIDNS.tids[t])
	s.PID = int32(k.rootPIDNS.tgids[t.tg])
	k.tasksMu.RUnlock()
	if t.mm == nil {
		return s
	}
	m, ok := mappingAt(t.mm.Maps(), s.PC)
	if !ok {
		return s
	}
	s.File, s.Offset = m.name, s.PC-m.start+m.off
	// The loader's mappings of the program carry no name yet; the one
	// holding the entry point is the program's text.
	if img := t.ProcImage(); s.File == "" && img != nil && img.Entry >= m.start && img.Entry < m.end {
		s.File = img.ExePath
	}
	return s
}

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end, off uint64
	name            string
}

// mappingAt finds the mapping holding addr in a /proc/PID/maps text.
func mappingAt(maps []byte, addr uint64) (mapping, bool) {
	for _, line := range bytes.Split(maps, []byte{'\n'}) {
		f := bytes.Fields(line)
		if len(f) < 5 {
			continue
		}
		rng := bytes.SplitN(f[0], []byte{'-'}, 2)
		if len(rng) != 2 {
			continue
		}
		start, err1 := strconv.ParseUint(string(rng[0]), 16, 64)
		end, err2 := strconv.ParseUint(string(rng[1]), 16, 64)
		off, err3 := strconv.ParseUint(string(f[2]), 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || addr < start || addr >= end {
			continue
		}
		m := mapping{start: start, end: end, off: off}
		if len(f) > 5 {
			m.name = string(bytes.Join(f[5:], []byte{' '}))
		}
		return m, true
	}
	return mapping{}, false
}

// CompatReport returns every record so far, sorted by kind and ID, and
// how many distinct records were dropped for want of room.
func (k *Kernel) CompatReport() ([]CompatRecord, uint64) {
	sm := registeredSyscallMetrics.Load()
	compatMu.Lock()
	out := make([]CompatRecord, 0, len(compatRecords))
	for key, e := range compatRecords {
		r := CompatRecord{Kind: key.kind, ID: key.id, Detail: key.detail, Count: e.count, First: e.first}
		if key.kind == CompatSyscall {
			r.Support = "unknown"
			if s, ok := k.SyscallTable.Lookup(uintptr(key.id)); ok {
				r.Name, r.Support, r.Note = s.Name, s.Support.String(), s.Note
			}
			if key.id < syscallCounterSlots && sm != nil {
				r.Count = 0
				for s := range syscallCounts {
					r.Count += syscallCounts[s][key.id].Load()
				}
			}
		}
		out = append(out, r)
	}
	overflow := compatOverflow
	compatMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Detail < out[j].Detail
	})
	return out, overflow
}
