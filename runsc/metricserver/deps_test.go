package metricserver

import (
	"os/exec"
	"strings"
	"testing"
)

// The exposition library runs only in the metric server: no Sentry
// package (and not runsc boot's own code) may depend on it.
func TestSentryDoesNotLinkTheExpositionLibrary(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool")
	}
	if mod, err := exec.Command("go", "env", "GOMOD").Output(); err != nil || !strings.HasSuffix(strings.TrimSpace(string(mod)), "go.mod") {
		t.Skip("not in the module's source tree (a Bazel sandbox, say)")
	}
	out, err := exec.Command("go", "list", "-deps", "appkernel.dev/appkernel/runsc/boot", "appkernel.dev/appkernel/pkg/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/prometheus/") || strings.HasPrefix(p, "google.golang.org/protobuf") {
			t.Errorf("the Sentry's packages depend on %s", p)
		}
	}
}
