package loader

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// layoutC prints where Linux put everything on its initial stack.
const layoutC = `
#include <stdio.h>
#include <stdint.h>
#include <elf.h>
int main(int argc, char **argv, char **envp) {
	printf("sp %lx\n", (unsigned long)((uintptr_t)argv - 8));
	for (int i = 0; i < argc; i++) printf("arg %lx\n", (unsigned long)(uintptr_t)argv[i]);
	char **e = envp;
	for (; *e; e++) printf("env %lx\n", (unsigned long)(uintptr_t)*e);
	printf("envp %lx\n", (unsigned long)(uintptr_t)envp);
	Elf64_auxv_t *a = (Elf64_auxv_t *)(e + 1);
	printf("auxv %lx\n", (unsigned long)(uintptr_t)a);
	for (; a->a_type != AT_NULL; a++) printf("aux %lu %lx\n", (unsigned long)a->a_type, (unsigned long)a->a_un.a_val);
	printf("auxend %lx\n", (unsigned long)(uintptr_t)(a + 1));
	return 0;
}
`

// stackFacts are addresses of one initial stack.
type stackFacts struct {
	sp, envp, auxv, auxend uint64
	args, envs             []uint64
	auxKeys                []uint64
	aux                    map[uint64]uint64
}

func parseFacts(out []byte) (*stackFacts, error) {
	f := &stackFacts{aux: map[uint64]uint64{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		hex := func(s string) uint64 { v, _ := strconv.ParseUint(s, 16, 64); return v }
		switch w[0] {
		case "sp":
			f.sp = hex(w[1])
		case "arg":
			f.args = append(f.args, hex(w[1]))
		case "env":
			f.envs = append(f.envs, hex(w[1]))
		case "envp":
			f.envp = hex(w[1])
		case "auxv":
			f.auxv = hex(w[1])
		case "aux":
			k, _ := strconv.ParseUint(w[1], 10, 64)
			f.auxKeys = append(f.auxKeys, k)
			f.aux[k] = hex(w[2])
		case "auxend":
			f.auxend = hex(w[1])
		}
	}
	if f.sp == 0 || f.auxend == 0 {
		return nil, fmt.Errorf("incomplete output:\n%s", out)
	}
	return f, nil
}

// checkLayoutRules checks the rules Linux's layout follows, which hold for
// any randomisation: the same function judges the native run and ours.
func checkLayoutRules(f *stackFacts, argv, envv []string, execfn, platform string) error {
	if f.sp%16 != 0 {
		return fmt.Errorf("sp %#x not 16-byte aligned", f.sp)
	}
	if len(f.args) != len(argv) || len(f.envs) != len(envv) {
		return fmt.Errorf("%d args %d envs", len(f.args), len(f.envs))
	}
	if f.envp != f.sp+8+uint64(len(argv)+1)*8 || f.auxv != f.envp+uint64(len(envv)+1)*8 {
		return fmt.Errorf("pointer arrays not packed: sp %#x envp %#x auxv %#x", f.sp, f.envp, f.auxv)
	}
	strs := append(append([]string{}, argv...), envv...)
	addrs := append(append([]uint64{}, f.args...), f.envs...)
	for i := 1; i < len(addrs); i++ {
		if addrs[i] != addrs[i-1]+uint64(len(strs[i-1]))+1 {
			return fmt.Errorf("string %d at %#x not right after string %d at %#x", i, addrs[i], i-1, addrs[i-1])
		}
	}
	fn := f.aux[linux.AT_EXECFN]
	if fn != addrs[len(addrs)-1]+uint64(len(strs[len(strs)-1]))+1 {
		return fmt.Errorf("AT_EXECFN %#x not right after the last env string", fn)
	}
	if (fn+uint64(len(execfn))+1+8)%linux.PageSize != 0 {
		return fmt.Errorf("AT_EXECFN %#x: the stack top is not 8 bytes above its end", fn)
	}
	plat := f.aux[linux.AT_PLATFORM]
	platEnd := plat + uint64(len(platform)) + 1
	if platEnd%16 != 0 || platEnd > f.args[0] || f.args[0]-platEnd >= 8192+16 {
		return fmt.Errorf("AT_PLATFORM at %#x, strings at %#x", plat, f.args[0])
	}
	rnd := f.aux[linux.AT_RANDOM]
	if rnd != plat-16 {
		return fmt.Errorf("AT_RANDOM %#x not right below AT_PLATFORM %#x", rnd, plat)
	}
	if f.auxend > rnd || rnd-f.auxend >= 16 {
		return fmt.Errorf("auxv ends at %#x, AT_RANDOM at %#x", f.auxend, rnd)
	}
	return nil
}

func TestStackMatchesLinux(t *testing.T) {
	bin := buildC(t, t.TempDir(), "layout", layoutC, "-static", "-no-pie")
	argv := []string{bin, "one", "two words", ""}
	envv := []string{"A=1", "LONGER=" + strings.Repeat("x", 100)}
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Env = envv
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	native, err := parseFacts(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkLayoutRules(native, argv, envv, bin, hostArch.platform); err != nil {
		t.Fatalf("native layout breaks the rules, so they are wrong: %v", err)
	}

	mm := newFakeMM()
	args := baseArgs(openHost(t, bin), mm, mapOpener{})
	args.Filename = bin
	args.Argv, args.Envv = argv, envv
	args.Layout.Randomize = true
	args.HWCap, args.HWCap2 = native.aux[linux.AT_HWCAP], native.aux[linux.AT_HWCAP2]
	args.MinSigStackSize = native.aux[linux.AT_MINSIGSTKSZ]
	args.RseqFeatureSize = native.aux[linux.AT_RSEQ_FEATURE_SIZE]
	args.Creds = Creds{
		UID: uint32(native.aux[linux.AT_UID]), EUID: uint32(native.aux[linux.AT_EUID]),
		GID: uint32(native.aux[linux.AT_GID]), EGID: uint32(native.aux[linux.AT_EGID]),
	}
	res, err := Load(args)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeStack(t, mm, res.Regs.SP)
	ours := &stackFacts{sp: d.sp, envp: d.envpAddr, auxv: d.auxvAddr, auxend: d.auxvEnd, args: d.argvPtrs, envs: d.envpPtrs, aux: d.aux}
	for _, e := range d.auxv[:len(d.auxv)-1] {
		ours.auxKeys = append(ours.auxKeys, e.Key)
	}
	if err := checkLayoutRules(ours, argv, envv, bin, hostArch.platform); err != nil {
		t.Fatal(err)
	}

	// Same auxv entries in the same order (the vDSO aside), and the same
	// values wherever they do not depend on addresses.
	known := map[uint64]bool{}
	for _, k := range ours.auxKeys {
		known[k] = true
	}
	var nativeKeys []uint64
	for _, k := range native.auxKeys {
		switch {
		case k == linux.AT_SYSINFO_EHDR:
		case !known[k]:
			t.Logf("host kernel reports auxv entry %d that we do not", k)
		default:
			nativeKeys = append(nativeKeys, k)
		}
	}
	if !equalU64(nativeKeys, ours.auxKeys) {
		t.Errorf("auxv order: Linux %v, ours %v", nativeKeys, ours.auxKeys)
	}
	for _, k := range ours.auxKeys {
		switch k {
		case linux.AT_RANDOM, linux.AT_EXECFN, linux.AT_PLATFORM:
			continue
		}
		if native.aux[k] != ours.aux[k] {
			t.Errorf("auxv[%d]: Linux %#x, ours %#x", k, native.aux[k], ours.aux[k])
		}
	}
}

// TestLayoutRulesAllCounts applies the rules Linux's layout was checked
// against to every parity of argc, envc and string length, where
// alignment mistakes show.
func TestLayoutRulesAllCounts(t *testing.T) {
	elfBytes := simpleELF().bytes()
	for argc := 1; argc <= 4; argc++ {
		for envc := 0; envc <= 3; envc++ {
			for extra := 0; extra < 16; extra += 5 {
				for _, rnd := range []bool{false, true} {
					var argv, envv []string
					for i := 0; i < argc; i++ {
						argv = append(argv, strings.Repeat("a", i+extra))
					}
					for i := 0; i < envc; i++ {
						envv = append(envv, "E="+strings.Repeat("e", i))
					}
					mm := newFakeMM()
					args := baseArgs(newMemFile(elfBytes), mm, nil)
					args.Argv, args.Envv, args.Layout.Randomize = argv, envv, rnd
					res, err := load(args, &amd64Params)
					if err != nil {
						t.Fatal(err)
					}
					d := decodeStack(t, mm, res.Regs.SP)
					f := &stackFacts{sp: d.sp, envp: d.envpAddr, auxv: d.auxvAddr, auxend: d.auxvEnd, args: d.argvPtrs, envs: d.envpPtrs, aux: d.aux}
					if err := checkLayoutRules(f, argv, envv, "/prog", "x86_64"); err != nil {
						t.Fatalf("argc %d envc %d extra %d randomize %v: %v", argc, envc, extra, rnd, err)
					}
				}
			}
		}
	}
}
