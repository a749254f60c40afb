package bench

import (
	"strings"
	"testing"
)

func TestParseCPUInfo(t *testing.T) {
	x86 := "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu vme hypervisor lahf_lm\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n"
	if model, virt := parseCPUInfo(x86); model != "AMD EPYC" || virt != "hypervisor CPU flag" {
		t.Errorf("x86: %q, %q", model, virt)
	}
	bare := "model name\t: Intel(R) Xeon(R)\nflags\t\t: fpu hypervisorx\n"
	if _, virt := parseCPUInfo(bare); virt != "" {
		t.Errorf("a flag merely containing the word is not the hypervisor flag: %q", virt)
	}
	arm := "processor\t: 0\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n"
	if model, _ := parseCPUInfo(arm); model != "implementer 0x41 part 0xd0c" {
		t.Errorf("arm64: %q", model)
	}
	if model, _ := parseCPUInfo(""); model != "unknown" {
		t.Errorf("empty: %q", model)
	}
}

func TestHostLines(t *testing.T) {
	h := Host{CPU: "AMD EPYC", Cores: 2, Kernel: "Linux 6.18", Go: "go1.26", Virtual: "hypervisor CPU flag"}
	text := strings.Join(h.Lines(), "\n")
	for _, want := range []string{"cpu:    AMD EPYC", "cores:  2", "kernel: Linux 6.18", "go:     go1.26", "2-core VM (hypervisor CPU flag)"} {
		if !strings.Contains(text, want) {
			t.Errorf("host lines lack %q:\n%s", want, text)
		}
	}
}
