package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Process names a host process across pid reuse: a pid and the start
// time (/proc/PID/stat field 22, in clock ticks since boot) it had when
// runsc started it.
type Process struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// procStat returns pid's state letter and start time.
func procStat(pid int) (state byte, start uint64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its closing parenthesis are plain.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat: %w", pid, err)
	}
	return fields[0][0], start, nil
}

// processOf identifies a process runsc just started.
func processOf(pid int) (Process, error) {
	_, start, err := procStat(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, StartTime: start}, nil
}

// Alive reports whether p still runs: the pid exists, is the same process
// (same start time), and has not exited (a zombie waiting for its reaper
// has).
func (p Process) Alive() bool {
	if p.PID <= 0 {
		return false
	}
	state, start, err := procStat(p.PID)
	if err != nil || start != p.StartTime {
		return false
	}
	return state != 'Z' && state != 'X' && state != 'x'
}
