package bench

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Host describes the machine the numbers came from; benchmark numbers mean
// little without it.
type Host struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	GCC    string `json:"gcc,omitempty"`
	// Virtual says whether the CPU reports running under a hypervisor, and
	// how that was found out; "" when nothing said so.
	Virtual  string `json:"virtual,omitempty"`
	MemTotal string `json:"mem_total,omitempty"`
}

// ProbeHost reads the host's facts from /proc, the Go runtime and gcc.
func ProbeHost() Host {
	h := Host{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown", Kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		h.CPU, h.Virtual = parseCPUInfo(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				h.MemTotal = strings.TrimSpace(v)
			}
		}
	}
	if h.Virtual == "" {
		if b, err := os.ReadFile("/sys/class/dmi/id/sys_vendor"); err == nil {
			if v := strings.TrimSpace(string(b)); isHypervisorVendor(v) {
				h.Virtual = "DMI vendor " + v
			}
		}
	}
	if out, err := exec.Command("gcc", "--version").Output(); err == nil {
		h.GCC = FirstLine(string(out))
	}
	return h
}

// parseCPUInfo returns the first CPU's model name (x86's "model name", or
// arm64's implementer/part when there is none) and whether its flags
// include "hypervisor", which x86 guests see set.
func parseCPUInfo(s string) (model, virtual string) {
	var implementer, part string
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			if model == "" {
				model = v
			}
		case "CPU implementer":
			implementer = v
		case "CPU part":
			part = v
		case "flags", "Features":
			if virtual == "" && hasWord(v, "hypervisor") {
				virtual = "hypervisor CPU flag"
			}
		}
	}
	if model == "" && implementer != "" {
		model = fmt.Sprintf("implementer %s part %s", implementer, part)
	}
	if model == "" {
		model = "unknown"
	}
	return model, virtual
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

func isHypervisorVendor(v string) bool {
	for _, known := range []string{"QEMU", "KVM", "Xen", "VMware", "Microsoft Corporation", "Amazon EC2", "Google", "innotek"} {
		if strings.Contains(v, known) {
			return true
		}
	}
	return false
}

// Lines renders the facts for the top of the report, ending with a note
// on what the machine's size means for the numbers.
func (h Host) Lines() []string {
	lines := []string{
		"cpu:    " + h.CPU,
		fmt.Sprintf("cores:  %d", h.Cores),
		"kernel: " + h.Kernel,
		"go:     " + h.Go,
	}
	if h.GCC != "" {
		lines = append(lines, "gcc:    "+h.GCC)
	}
	if h.MemTotal != "" {
		lines = append(lines, "memory: "+h.MemTotal)
	}
	kind := "machine (no hypervisor detected)"
	if h.Virtual != "" {
		kind = "VM (" + h.Virtual + ")"
	}
	lines = append(lines, fmt.Sprintf("note:   a %d-core %s: absolute numbers are noisy and below bare metal; compare ratios from the same run.", h.Cores, kind))
	return lines
}
