package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SpawnReport is the line the spawn launcher (workloads/spawn.c) writes
// on its file descriptor 3 once its command has been reaped.
type SpawnReport struct {
	Wall     time.Duration
	MaxRSSKB int64
	// Status is the raw wait status.
	Status int
}

// ParseSpawnReport parses "SPAWN wall_ns=T maxrss_kb=K status=S"; every
// field is required, since a partial report would be a wrong number.
func ParseSpawnReport(s string) (SpawnReport, error) {
	line := strings.TrimSpace(s)
	fields := strings.Fields(line)
	if len(fields) == 0 || fields[0] != "SPAWN" {
		return SpawnReport{}, fmt.Errorf("not a SPAWN report: %q", s)
	}
	vals := map[string]int64{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return SpawnReport{}, fmt.Errorf("SPAWN field %q is not key=value", f)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return SpawnReport{}, fmt.Errorf("SPAWN %s: %v", k, err)
		}
		vals[k] = n
	}
	for _, k := range []string{"wall_ns", "maxrss_kb", "status"} {
		if _, ok := vals[k]; !ok {
			return SpawnReport{}, fmt.Errorf("SPAWN report lacks %s: %q", k, s)
		}
	}
	if vals["wall_ns"] < 0 || vals["maxrss_kb"] < 0 {
		return SpawnReport{}, fmt.Errorf("SPAWN values out of range: %q", s)
	}
	return SpawnReport{Wall: time.Duration(vals["wall_ns"]), MaxRSSKB: vals["maxrss_kb"], Status: int(vals["status"])}, nil
}
