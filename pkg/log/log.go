// Package log is the leveled logger shared by runsc, the Sentry and the
// gofer. Each process sets its outputs once at start; every call after that
// writes one line per output, as text or as JSON (the format container
// engines read from a runtime's --log file).
package log

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Level orders messages by importance.
type Level int

// The levels, least verbose first.
const (
	Warning Level = iota
	Info
	Debug
)

func (l Level) String() string {
	switch l {
	case Warning:
		return "warning"
	case Info:
		return "info"
	case Debug:
		return "debug"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// Format is how one output renders a message.
type Format int

// The formats an output can use.
const (
	Text Format = iota
	JSON
	// Plain is the message alone after a fixed prefix: what a person reads
	// on a terminal when a command fails.
	Plain
)

// Output is one destination for log lines.
type Output struct {
	W      io.Writer
	Format Format
	// Prefix starts every Plain line, e.g. "runsc: ".
	Prefix string
	// Level is the most verbose level written here.
	Level Level
}

var (
	// mu guards outputs and serializes writes so lines never interleave.
	mu      sync.Mutex
	outputs []Output
)

// SetOutputs replaces every destination.
func SetOutputs(o ...Output) {
	mu.Lock()
	defer mu.Unlock()
	outputs = o
}

// IsLogging reports whether any output takes messages at level l, so
// callers can skip building expensive messages.
func IsLogging(l Level) bool {
	mu.Lock()
	defer mu.Unlock()
	for _, o := range outputs {
		if o.Level >= l {
			return true
		}
	}
	return false
}

func emit(l Level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	now := time.Now()
	mu.Lock()
	defer mu.Unlock()
	for _, o := range outputs {
		if o.Level < l {
			continue
		}
		switch o.Format {
		case JSON:
			line, _ := json.Marshal(struct {
				Msg   string `json:"msg"`
				Level string `json:"level"`
				Time  string `json:"time"`
			}{msg, errorLevelName(l), now.UTC().Format(time.RFC3339Nano)})
			o.W.Write(append(line, '\n'))
		case Plain:
			fmt.Fprintf(o.W, "%s%s\n", o.Prefix, msg)
		default:
			fmt.Fprintf(o.W, "%s %s] %s\n", now.Format("15:04:05.000000"), l.String()[:1], msg)
		}
	}
}

// errorLevelName maps Warning to "error" in JSON: engines show the runtime's
// last "error" line to the user when a command fails, and warnings are the
// most severe thing this logger writes.
func errorLevelName(l Level) string {
	if l == Warning {
		return "error"
	}
	return l.String()
}

// Warningf logs at Warning level.
func Warningf(format string, args ...any) { emit(Warning, format, args...) }

// Infof logs at Info level.
func Infof(format string, args ...any) { emit(Info, format, args...) }

// Debugf logs at Debug level.
func Debugf(format string, args ...any) { emit(Debug, format, args...) }
