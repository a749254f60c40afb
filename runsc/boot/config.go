// Package boot starts the Sentry inside the sandbox process (`runsc
// boot`): it builds the memory file, platform, kernel and file system,
// creates the container's first process, and reports how it ended.
package boot

import (
	"encoding/json"
	"fmt"
	"io"
)

// Config is what the runsc process that creates a sandbox tells the
// sandbox process, over a pipe, about the container to run.
type Config struct {
	// Argv, Env and Cwd describe the first process.
	Argv []string
	Env  []string
	Cwd  string
	// UID and GID are the first process's credentials.
	UID, GID uint32
	// Hostname is the sandbox's UTS name.
	Hostname string
	// Platform names the platform ("ptrace" or "systrap").
	Platform string
	// Strace logs every syscall.
	Strace bool
	// RootReadOnly makes the root file system refuse writes.
	RootReadOnly bool
	// HostCPUInfo and HostRelease are host facts captured by the creator,
	// since the Sentry reads no host files.
	HostCPUInfo []byte
	HostRelease string
	HostVersion string
}

// maxConfigSize bounds what the sandbox reads, so a broken creator cannot
// make it allocate without limit.
const maxConfigSize = 16 << 20

// ReadConfig decodes a Config from r.
func ReadConfig(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading sandbox config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("sandbox config larger than %d bytes", maxConfigSize)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("decoding sandbox config: %w", err)
	}
	if len(c.Argv) == 0 {
		return nil, fmt.Errorf("sandbox config has no command")
	}
	return &c, nil
}

// Write encodes c to w.
func (c *Config) Write(w io.Writer) error {
	return json.NewEncoder(w).Encode(c)
}
