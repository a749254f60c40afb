package boot

import (
	"errors"
	"fmt"
	"runtime"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/bpf"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/seccomp"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// The OCI bundle's seccomp profile (linux.seccomp) confines the
// container's processes inside the sandbox: it is compiled here into a
// classic BPF filter, the same form seccomp(2) takes, and installed on the
// container's first process and on each process `runsc exec` adds, before
// they run an instruction. The Sentry evaluates it on every syscall, so
// the profile behaves as it does under runc; the host never sees it (the
// Sentry's own host filter is runsc/boot/filter).
//
// The translation follows libseccomp as runc drives it:
//
//   - a syscall name missing from the sandbox's table is skipped, as
//     libseccomp skips names of another architecture;
//   - the entries are tried in the file's order, the first one whose
//     conditions hold deciding, and defaultAction otherwise;
//   - an entry's conditions must all hold, except that when one argument
//     index appears more than once each condition becomes a rule of its
//     own, any of which selects the call (runc's rule for libseccomp);
//   - SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry errnoRet (defaultErrnoRet
//     for the default), EPERM when absent;
//   - architectures only has to name known architectures: the sandbox
//     runs native syscalls alone, which libseccomp always includes.
//
// SCMP_ACT_NOTIFY needs a listener the sandbox cannot give, so a profile
// using it is refused rather than weakened.

// SeccompConfig is what the sandbox needs of the bundle to confine a
// container's processes.
type SeccompConfig struct {
	// Profile is linux.seccomp; nil for none.
	Profile *specs.LinuxSeccomp `json:",omitempty"`
	// NoNewPrivileges is process.noNewPrivileges: the container's
	// processes start with no_new_privs set.
	NoNewPrivileges bool `json:",omitempty"`
}

// NewSeccompConfig extracts spec's seccomp settings and checks that the
// profile compiles, so a bad profile fails at create as under runc. It
// returns nil when there is nothing to apply.
func NewSeccompConfig(spec *specs.Spec) (*SeccompConfig, error) {
	c := &SeccompConfig{}
	if spec.Process != nil {
		c.NoNewPrivileges = spec.Process.NoNewPrivileges
	}
	if spec.Linux != nil {
		c.Profile = spec.Linux.Seccomp
	}
	if c.Profile == nil && !c.NoNewPrivileges {
		return nil, nil
	}
	if c.Profile != nil {
		if _, _, err := CompileSeccompProfile(c.Profile); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// seccompActions maps the OCI action names to filter actions without
// their data.
var seccompActions = map[specs.LinuxSeccompAction]seccomp.Action{
	specs.ActKill:        seccomp.KillThread,
	specs.ActKillThread:  seccomp.KillThread,
	specs.ActKillProcess: seccomp.KillProcess,
	specs.ActTrap:        seccomp.Trap,
	specs.ActErrno:       linux.SECCOMP_RET_ERRNO,
	specs.ActTrace:       seccomp.Trace,
	specs.ActAllow:       seccomp.Allow,
	specs.ActLog:         seccomp.Log,
}

// seccompOperators builds a Match from an OCI condition.
var seccompOperators = map[specs.LinuxSeccompOperator]func(a specs.LinuxSeccompArg) seccomp.Match{
	specs.OpNotEqual:     func(a specs.LinuxSeccompArg) seccomp.Match { return seccomp.Ne(a.Value) },
	specs.OpLessThan:     func(a specs.LinuxSeccompArg) seccomp.Match { return seccomp.Lt(a.Value) },
	specs.OpLessEqual:    func(a specs.LinuxSeccompArg) seccomp.Match { return seccomp.Le(a.Value) },
	specs.OpEqualTo:      func(a specs.LinuxSeccompArg) seccomp.Match { return seccomp.Eq(a.Value) },
	specs.OpGreaterEqual: func(a specs.LinuxSeccompArg) seccomp.Match { return seccomp.Ge(a.Value) },
	specs.OpGreaterThan:  func(a specs.LinuxSeccompArg) seccomp.Match { return seccomp.Gt(a.Value) },
	// value is the mask, valueTwo what the masked argument must equal.
	specs.OpMaskedEqual: func(a specs.LinuxSeccompArg) seccomp.Match { return seccomp.MaskedEq(a.Value, a.ValueTwo) },
}

// seccompFlags maps the profile's flags to SECCOMP_FILTER_FLAG_* bits;
// those with no effect inside the sandbox map to 0. TSYNC is implied:
// the filter is installed before the process has a second thread.
var seccompFlags = map[specs.LinuxSeccompFlag]uint32{
	specs.LinuxSeccompFlagLog:       linux.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow: 0,
	"SECCOMP_FILTER_FLAG_TSYNC":     0,
}

// seccompArchs are the architecture names accepted in a profile.
var seccompArchs = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
	specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
	specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
	specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
}

// SeccompFeatures lists, for `runsc features`, the actions, operators,
// architectures and flags a profile may use.
func SeccompFeatures() (actions, operators, archs, flags []string) {
	for a := range seccompActions {
		actions = append(actions, string(a))
	}
	for o := range seccompOperators {
		operators = append(operators, string(o))
	}
	for _, a := range seccompArchs {
		archs = append(archs, string(a))
	}
	for f := range seccompFlags {
		flags = append(flags, string(f))
	}
	sort.Strings(actions)
	sort.Strings(operators)
	sort.Strings(flags)
	return actions, operators, archs, flags
}

// seccompAction translates an OCI action and its errnoRet.
func seccompAction(a specs.LinuxSeccompAction, errnoRet *uint) (seccomp.Action, error) {
	if a == specs.ActNotify {
		return 0, errors.New("seccomp: SCMP_ACT_NOTIFY is not supported: the sandbox has no user notification listener")
	}
	act, ok := seccompActions[a]
	if !ok {
		return 0, fmt.Errorf("seccomp: unknown action %q", a)
	}
	if act != linux.SECCOMP_RET_ERRNO && act != seccomp.Trace {
		if errnoRet != nil {
			return 0, fmt.Errorf("seccomp: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not %q", a)
		}
		return act, nil
	}
	data := uint(linux.EPERM)
	if errnoRet != nil {
		data = *errnoRet
	}
	if data > linux.SECCOMP_RET_DATA {
		return 0, fmt.Errorf("seccomp: errnoRet %d out of range", data)
	}
	return act | seccomp.Action(data), nil
}

// CompileSeccompProfile builds the filter for p on the architecture we
// run on, with its SECCOMP_FILTER_FLAG_* flags.
func CompileSeccompProfile(p *specs.LinuxSeccomp) (seccomp.Program, uint32, error) {
	table, ok := kernel.LookupSyscallTable("linux", runtime.GOARCH)
	if !ok {
		return nil, 0, fmt.Errorf("seccomp: no syscall table for %s", runtime.GOARCH)
	}
	numbers := make(map[string]uintptr)
	for nr, s := range table.All() {
		numbers[s.Name] = nr
	}

	if p.ListenerPath != "" {
		return nil, 0, errors.New("seccomp: listenerPath is not supported: the sandbox has no user notification listener")
	}
	var flags uint32
	for _, f := range p.Flags {
		bit, ok := seccompFlags[f]
		if !ok {
			return nil, 0, fmt.Errorf("seccomp: unsupported flag %q", f)
		}
		flags |= bit
	}
	for _, a := range p.Architectures {
		known := false
		for _, k := range seccompArchs {
			known = known || a == k
		}
		if !known {
			return nil, 0, fmt.Errorf("seccomp: unknown architecture %q", a)
		}
	}
	def, err := seccompAction(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, 0, err
	}
	rs := seccomp.RuleSet{Default: def}
	for i, sc := range p.Syscalls {
		act, err := seccompAction(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, 0, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		rules, err := seccompRules(sc.Args)
		if err != nil {
			return nil, 0, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		sel := seccomp.SyscallRules{}
		for _, name := range sc.Names {
			nr, ok := numbers[name]
			if !ok {
				log.Debugf("seccomp profile: skipping %q, not a syscall on %s", name, runtime.GOARCH)
				continue
			}
			sel.Add(nr, rules...)
		}
		if len(sel) > 0 {
			rs.Sections = append(rs.Sections, seccomp.Section{Action: act, Syscalls: sel})
		}
	}
	prog, err := seccomp.Compile(rs)
	if err != nil {
		return nil, 0, err
	}
	return prog, flags, nil
}

// seccompRules turns an entry's conditions into the rules that select a
// call: one rule with all of them, or, when an argument index repeats,
// one rule per condition.
func seccompRules(args []specs.LinuxSeccompArg) ([]seccomp.Rule, error) {
	if len(args) == 0 {
		return nil, nil
	}
	var count [6]int
	matches := make([]seccomp.Match, len(args))
	for i, a := range args {
		if a.Index >= 6 {
			return nil, fmt.Errorf("seccomp: argument index %d out of range", a.Index)
		}
		mk, ok := seccompOperators[a.Op]
		if !ok {
			return nil, fmt.Errorf("seccomp: unknown operator %q", a.Op)
		}
		count[a.Index]++
		matches[i] = mk(a)
	}
	repeated := false
	for _, n := range count {
		repeated = repeated || n > 1
	}
	if !repeated {
		var r seccomp.Rule
		for i, a := range args {
			r.Args[a.Index] = matches[i]
		}
		return []seccomp.Rule{r}, nil
	}
	rules := make([]seccomp.Rule, len(args))
	for i, a := range args {
		rules[i].Args[a.Index] = matches[i]
	}
	return rules, nil
}

// applySeccompConfig confines t, created but not started, with its
// container's seccomp settings c (nil: none). If that fails t is made
// to die as soon as it starts, and is started, so it does not linger.
func applySeccompConfig(t *kernel.Task, c *SeccompConfig) error {
	if c == nil {
		return nil
	}
	err := installSeccompConfig(t, c)
	if err != nil {
		t.ExitGroup(linux.WaitStatusSignaled(linux.SIGKILL, false))
		t.Start()
	}
	return err
}

// installSeccompConfig sets no_new_privs and installs the profile's
// filter on t, which has not started.
func installSeccompConfig(t *kernel.Task, c *SeccompConfig) error {
	if c.NoNewPrivileges {
		t.SetNoNewPrivs()
	}
	if c.Profile == nil {
		return nil
	}
	prog, flags, err := CompileSeccompProfile(c.Profile)
	if err != nil {
		return err
	}
	p, err := bpf.Compile(prog)
	if err != nil {
		return fmt.Errorf("seccomp profile: %w", err)
	}
	if _, err := t.AddSeccompFilter(p, flags); err != nil {
		return fmt.Errorf("seccomp profile: installing the filter: %w", err)
	}
	return nil
}
