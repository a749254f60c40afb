package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestEditDaemonJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docker", "daemon.json")
	// A missing file is created.
	if err := editDaemonJSON(path, "runsc", "/bin/runsc", nil, false); err != nil {
		t.Fatal(err)
	}
	// Existing settings and runtimes are kept exactly.
	orig := `{"data-root": "/x", "log-opts": {"max-size": "10m", "n": [1, 2.50]}, "runtimes": {"other": {"path": "/o"}}}`
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := editDaemonJSON(path, "runsc-ptrace", "/bin/runsc", []string{"--platform=ptrace"}, false); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"data-root": "/x",
		"log-opts":  map[string]any{"max-size": "10m", "n": []any{1.0, 2.5}},
		"runtimes": map[string]any{
			"other":        map[string]any{"path": "/o"},
			"runsc-ptrace": map[string]any{"path": "/bin/runsc", "runtimeArgs": []any{"--platform=ptrace"}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after install:\n%s\nwant %v", data, want)
	}
	if err := editDaemonJSON(path, "runsc-ptrace", "", nil, true); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	json.Unmarshal(data, &got)
	delete(want["runtimes"].(map[string]any), "runsc-ptrace")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after uninstall:\n%s", data)
	}
	if err := editDaemonJSON(path, "missing", "", nil, true); err == nil {
		t.Errorf("uninstalling a runtime that is not there succeeded")
	}
	if err := os.WriteFile(path, []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := editDaemonJSON(path, "runsc", "/bin/runsc", nil, false); err == nil {
		t.Errorf("a malformed daemon.json was overwritten")
	}
}
