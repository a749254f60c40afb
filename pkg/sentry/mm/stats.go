package mm

import (
	"strconv"

	"appkernel.dev/appkernel/pkg/sentry/memmap"
)

// Stats are the memory statistics of /proc/PID/status and statm, in
// bytes.
type Stats struct {
	VirtualSize  uint64 // VmSize
	Resident     uint64 // VmRSS
	MaxResident  uint64 // VmHWM, also rusage ru_maxrss
	ResidentAnon uint64 // RssAnon: private pages of this address space
	ResidentFile uint64 // RssFile + RssShmem: pages of mapped objects
	Data         uint64 // VmData: private writable, not stack
	Stack        uint64 // VmStk
	Exec         uint64 // VmExe: executable, not writable
	Locked       uint64 // VmLck
}

// Stats returns the current statistics.
//
// Resident counts pages populated in this address space; fault-around
// populates up to 16 neighbouring pages at once, so it can exceed the pages
// the application touched (the host commits memory only for those).
func (mm *MemoryManager) Stats() Stats {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	var s Stats
	for _, v := range mm.vmas {
		n := uint64(v.end - v.start)
		s.VirtualSize += n
		switch {
		case v.growsDown:
			s.Stack += n
		case v.perms.Write && v.private:
			s.Data += n
		case v.perms.Execute && !v.perms.Write:
			s.Exec += n
		}
		if v.locked {
			s.Locked += n
		}
	}
	for _, p := range mm.pages {
		if p.private {
			s.ResidentAnon += pageSize
		} else {
			s.ResidentFile += pageSize
		}
	}
	s.Resident = s.ResidentAnon + s.ResidentFile
	s.MaxResident = mm.maxRSS * pageSize
	return s
}

// VirtualSize returns the total size of the mappings.
func (mm *MemoryManager) VirtualSize() uint64 { return mm.Stats().VirtualSize }

// ResidentSize returns the bytes of populated pages.
func (mm *MemoryManager) ResidentSize() uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return uint64(len(mm.pages)) * pageSize
}

// MaxResidentSize returns the high-water mark of ResidentSize.
func (mm *MemoryManager) MaxResidentSize() uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return mm.maxRSS * pageSize
}

// BrkRange returns the start and current end of the program break.
func (mm *MemoryManager) BrkRange() (start, end uintptr) {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return mm.brkStart, mm.brk
}

// Maps renders /proc/PID/maps in Linux's format.
func (mm *MemoryManager) Maps() []byte {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	var b []byte
	for _, v := range mm.vmas {
		b = mm.appendMapsLine(b, v)
	}
	return b
}

// appendMapsLine appends v's line: "start-end perms offset major:minor
// inode", padded to column 73 before the name when there is one.
func (mm *MemoryManager) appendMapsLine(b []byte, v *vma) []byte {
	lineStart := len(b)
	b = appendHex(b, uint64(v.start), 8)
	b = append(b, '-')
	b = appendHex(b, uint64(v.end), 8)
	b = append(b, ' ', flag(v.perms.Read, 'r'), flag(v.perms.Write, 'w'), flag(v.perms.Execute, 'x'), 'p')
	if !v.private {
		b[len(b)-1] = 's'
	}
	b = append(b, ' ')
	var off uint64
	var major, minor uint32
	var ino uint64
	if v.mappable != nil {
		off = v.off
		if di, ok := v.mappable.(memmap.DeviceInode); ok {
			major, minor, ino = di.DeviceInode()
		}
	}
	b = appendHex(b, off, 8)
	b = append(b, ' ')
	b = appendHex(b, uint64(major), 2)
	b = append(b, ':')
	b = appendHex(b, uint64(minor), 2)
	b = append(b, ' ')
	b = strconv.AppendUint(b, ino, 10)
	b = append(b, ' ')

	name := v.name
	switch {
	case name != "":
	case v.mappable != nil:
		name = v.mappable.Name()
	case mm.brkStart != 0 && v.start <= mm.brk && v.end >= mm.brkStart:
		name = "[heap]"
	case v.start <= mm.stackStart && v.end >= mm.stackStart:
		name = "[stack]"
	}
	if name != "" {
		// Linux pads the fixed part to 25+6*sizeof(void*)-1 = 72
		// columns, then a space.
		for len(b)-lineStart < 72 {
			b = append(b, ' ')
		}
		b = append(b, ' ')
		b = append(b, name...)
	}
	return append(b, '\n')
}

func flag(set bool, c byte) byte {
	if set {
		return c
	}
	return '-'
}

// appendHex appends v in lower-case hex, zero-padded to width digits.
func appendHex(b []byte, v uint64, width int) []byte {
	var tmp [16]byte
	s := strconv.AppendUint(tmp[:0], v, 16)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
