package sys

import (
	"fmt"
	"strconv"
	"strings"

	"appkernel.dev/appkernel/pkg/sentry/fsimpl/attrtree"
)

// addCPUDir adds /sys/devices/system/cpu. The sandbox has CPUs 0 to
// n-1, all possible, present and online, and knows nothing of how the
// host's cores share caches or packages: each CPU is shown as a core of
// its own in one package and one die, which is what a scheduler that
// reads the topology may safely assume of CPUs it cannot pin to.
func (fs *filesystem) addCPUDir(system *attrtree.StaticDir) {
	n := fs.numCPUs()
	all := cpuList(0, n)
	cpu := system.AddDir("cpu")
	cpu.Add("online", fs.tree.NewConstFile(all+"\n"))
	cpu.Add("possible", fs.tree.NewConstFile(all+"\n"))
	cpu.Add("present", fs.tree.NewConstFile(all+"\n"))
	cpu.Add("offline", fs.tree.NewConstFile("\n"))
	allMask := cpuMask(n, func(int) bool { return true })
	for i := range n {
		self := cpuList(i, i+1)
		selfMask := cpuMask(n, func(j int) bool { return j == i })
		c := cpu.AddDir("cpu" + strconv.Itoa(i))
		topo := c.AddDir("topology")
		for _, f := range []struct{ name, text string }{
			{"core_id", strconv.Itoa(i)},
			{"physical_package_id", "0"},
			{"die_id", "0"},
			{"core_cpus", selfMask},
			{"core_cpus_list", self},
			{"thread_siblings", selfMask},
			{"thread_siblings_list", self},
			{"core_siblings", allMask},
			{"core_siblings_list", all},
			{"die_cpus", allMask},
			{"die_cpus_list", all},
			{"package_cpus", allMask},
			{"package_cpus_list", all},
		} {
			topo.Add(f.name, fs.tree.NewConstFile(f.text+"\n"))
		}
	}
}

// addNodeDir adds /sys/devices/system/node: one NUMA node, 0, with every
// CPU (libnuma and hwloc read it; the sandbox has no NUMA placement).
func (fs *filesystem) addNodeDir(system *attrtree.StaticDir) {
	n := fs.numCPUs()
	node := system.AddDir("node")
	for _, name := range []string{"online", "possible", "has_cpu", "has_normal_memory"} {
		node.Add(name, fs.tree.NewConstFile("0\n"))
	}
	node0 := node.AddDir("node0")
	node0.Add("cpulist", fs.tree.NewConstFile(cpuList(0, n)+"\n"))
	node0.Add("cpumap", fs.tree.NewConstFile(cpuMask(n, func(int) bool { return true })+"\n"))
}

// cpuList is Linux's list format of CPUs lo to hi-1: "0", "0-3".
func cpuList(lo, hi int) string {
	if hi-lo == 1 {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi-1)
}

// cpuMask is Linux's mask format of a set of nbits CPUs (the "%*pb" of
// cpumap_print_to_pagebuf): hexadecimal in 32-bit groups, most
// significant first, separated by commas, each zero-padded to its
// width; the first group has only the bits left over.
func cpuMask(nbits int, in func(cpu int) bool) string {
	var groups []string
	for lo := 0; lo < nbits; lo += 32 {
		hi := min(lo+32, nbits)
		var v uint32
		for cpu := lo; cpu < hi; cpu++ {
			if in(cpu) {
				v |= 1 << (cpu - lo)
			}
		}
		width := (hi - lo + 3) / 4
		groups = append(groups, fmt.Sprintf("%0*x", width, v))
	}
	for i, j := 0, len(groups)-1; i < j; i, j = i+1, j-1 {
		groups[i], groups[j] = groups[j], groups[i]
	}
	return strings.Join(groups, ",")
}
