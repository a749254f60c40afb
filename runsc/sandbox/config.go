package sandbox

import (
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/specutils"
)

// AddHostFacts fills in what the Sentry tells programs about the host,
// captured here because the sandbox reads no host files.
func AddHostFacts(bc *boot.Config) {
	bc.HostCPUInfo, _ = os.ReadFile("/proc/cpuinfo")
	var uts syscall.Utsname
	syscall.Uname(&uts)
	bc.HostRelease = utsString(uts.Release[:])
	bc.HostVersion = utsString(uts.Version[:])
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// goferMount is one bind mount the gofer exports.
type goferMount struct {
	dest, source string
	readOnly     bool
}

// flag is the gofer's --mount value for m.
func (m goferMount) flag() string {
	s := m.dest + "=" + m.source
	if m.readOnly {
		s = "ro:" + s
	}
	return s
}

// buildConfig turns an OCI spec into what the sandbox process runs, and
// the bind mounts the gofer must export.
func buildConfig(spec *specs.Spec, bundle string) (*boot.Config, []goferMount, error) {
	p := spec.Process
	bc := &boot.Config{
		Argv:     p.Args,
		Env:      p.Env,
		Cwd:      p.Cwd,
		UID:      p.User.UID,
		GID:      p.User.GID,
		Hostname: spec.Hostname,
		// The rootfs is the engine's writable container layer (or a
		// read-only root, as root.readonly asks): it is served as is,
		// and writes reach it, as they do under runc.
		RootReadOnly: spec.Root.Readonly,
	}
	if bc.Hostname == "" {
		bc.Hostname = "runsc"
	}
	AddHostFacts(bc)
	seccompConfig, err := boot.NewSeccompConfig(spec)
	if err != nil {
		return nil, nil, err
	}
	bc.Seccomp = seccompConfig
	for _, rl := range p.Rlimits {
		res, ok := rlimits[rl.Type]
		if !ok {
			return nil, nil, fmt.Errorf("unknown rlimit %q", rl.Type)
		}
		bc.Rlimits = append(bc.Rlimits, boot.Rlimit{Resource: res, Cur: rl.Soft, Max: rl.Hard})
	}
	bc.Cgroup = cgroupLimits(spec)
	var exports []goferMount
	seen := make(map[string]bool)
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		dest := path.Clean(m.Destination)
		flags := mountFlags(m)
		switch {
		case specutils.IsBindMount(m):
			// A directory or a single file (/etc/resolv.conf, a
			// secret): the gofer exports either, and the Sentry mounts
			// a file over a file.
			src := specutils.BindSource(m, bundle)
			if _, err := os.Stat(src); err != nil {
				return nil, nil, fmt.Errorf("bind mount on %s: %w", dest, err)
			}
			if dest == "/" || seen[dest] {
				return nil, nil, fmt.Errorf("bind mount destination %s given twice or over the root", dest)
			}
			seen[dest] = true
			exports = append(exports, goferMount{dest: dest, source: src, readOnly: flags&linux.MS_RDONLY != 0})
			bc.Mounts = append(bc.Mounts, boot.Mount{Dest: dest, Kind: boot.MountGofer, Flags: flags})
		case m.Type == "tmpfs" && dest != "/dev":
			bc.Mounts = append(bc.Mounts, boot.Mount{Dest: dest, Kind: boot.MountTmpfs, Flags: flags, Data: tmpfsData(m.Options)})
		case m.Type == "proc" && dest == "/proc", dest == "/dev":
			// The Sentry always provides its own /proc and /dev.
		case m.Type == "devpts":
			bc.Mounts = append(bc.Mounts, boot.Mount{Dest: dest, Kind: boot.MountDevpts, Flags: flags, Data: devptsData(m.Options)})
		case m.Type == "sysfs":
			bc.Mounts = append(bc.Mounts, boot.Mount{Dest: dest, Kind: boot.MountSysfs, Flags: flags})
		case m.Type == "mqueue":
			bc.Mounts = append(bc.Mounts, boot.Mount{Dest: dest, Kind: boot.MountMqueue, Flags: flags})
		case m.Type == "cgroup" || m.Type == "cgroup2":
			// The container's own cgroup, as a cgroup namespace shows
			// it; a cgroup v1 mount gets cgroup v2 too, which programs
			// recognize by its type in mountinfo.
			bc.Mounts = append(bc.Mounts, boot.Mount{Dest: dest, Kind: boot.MountCgroup, Flags: flags})
		default:
			log.Infof("skipping the %q mount on %s: not supported yet", m.Type, dest)
		}
	}
	return bc, exports, nil
}

// cgroupLimits copies the resource limits of spec that the Sentry's
// cgroup2 shows.
func cgroupLimits(spec *specs.Spec) boot.CgroupLimits {
	var c boot.CgroupLimits
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return c
	}
	r := spec.Linux.Resources
	if m := r.Memory; m != nil {
		c.MemoryLimit = deref(m.Limit)
		c.MemorySwap = deref(m.Swap)
	}
	if cpu := r.CPU; cpu != nil {
		c.CPUQuota = deref(cpu.Quota)
		c.CPUPeriod = deref(cpu.Period)
		c.CPUShares = deref(cpu.Shares)
	}
	if p := r.Pids; p != nil {
		c.PidsLimit = deref(p.Limit)
	}
	return c
}

// deref is *p, or 0 for an unset value.
func deref[T int64 | uint64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}

// mountFlags are the mount(2) flags m's options ask for.
func mountFlags(m *specs.Mount) uint32 {
	var f uint32
	if specutils.IsReadOnly(m) {
		f |= linux.MS_RDONLY
	}
	for _, o := range m.Options {
		switch o {
		case "nosuid":
			f |= linux.MS_NOSUID
		case "nodev":
			f |= linux.MS_NODEV
		case "noexec":
			f |= linux.MS_NOEXEC
		}
	}
	return f
}

// tmpfsData keeps the tmpfs options that are file system data rather
// than mount flags.
func tmpfsData(opts []string) string {
	var data []string
	for _, o := range opts {
		k, _, ok := strings.Cut(o, "=")
		if ok && (k == "mode" || k == "size" || k == "uid" || k == "gid") {
			data = append(data, o)
		}
	}
	return strings.Join(data, ",")
}

// devptsData keeps the devpts options the Sentry's devpts takes (the
// flags among the options are mount flags).
func devptsData(opts []string) string {
	var data []string
	for _, o := range opts {
		k, _, ok := strings.Cut(o, "=")
		if o == "newinstance" || (ok && (k == "mode" || k == "ptmxmode" || k == "uid" || k == "gid" || k == "max")) {
			data = append(data, o)
		}
	}
	return strings.Join(data, ",")
}

// rlimits maps OCI rlimit names to resource numbers.
var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}
