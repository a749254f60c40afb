package log

import (
	"bytes"
	"testing"
)

func TestSetLevel(t *testing.T) {
	var buf bytes.Buffer
	SetOutputs(Output{W: &buf, Format: Plain, Level: Warning})
	defer SetOutputs()
	Infof("hidden")
	SetLevel(Info)
	Infof("shown")
	Debugf("still hidden")
	if got := buf.String(); got != "shown\n" {
		t.Errorf("output %q, want only the info line after SetLevel(Info)", got)
	}
	for _, s := range []string{"warning", "info", "debug"} {
		if l, ok := ParseLevel(s); !ok || l.String() != s {
			t.Errorf("ParseLevel(%q) = %v, %v", s, l, ok)
		}
	}
	if _, ok := ParseLevel("loud"); ok {
		t.Error("ParseLevel accepted loud")
	}
}
