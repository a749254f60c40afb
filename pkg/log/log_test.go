package log

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLevelsAndFormats(t *testing.T) {
	var text, js bytes.Buffer
	SetOutputs(Output{W: &text, Format: Text, Level: Info}, Output{W: &js, Format: JSON, Level: Warning})
	defer SetOutputs()

	Debugf("hidden %d", 1)
	Infof("shown %d", 2)
	Warningf("bad %s", "thing")

	if strings.Contains(text.String(), "hidden") {
		t.Errorf("debug line written at info level: %q", text.String())
	}
	if !strings.Contains(text.String(), "shown 2") || !strings.Contains(text.String(), "bad thing") {
		t.Errorf("text output missing lines: %q", text.String())
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("json output has %d lines, want 1: %q", len(lines), js.String())
	}
	var rec map[string]string
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("json line does not parse: %v", err)
	}
	if rec["msg"] != "bad thing" || rec["level"] != "error" || rec["time"] == "" {
		t.Errorf("json record = %v", rec)
	}
	if !IsLogging(Info) || IsLogging(Debug) {
		t.Errorf("IsLogging disagrees with outputs")
	}
}
