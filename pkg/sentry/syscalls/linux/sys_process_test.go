package linux

import (
	"testing"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
)

func TestCloneOptionsFromArgs(t *testing.T) {
	ok := abilinux.CloneArgs{Flags: abilinux.CLONE_VM, ExitSignal: uint64(abilinux.SIGCHLD), Stack: 0x10000, StackSize: 0x4000}
	opts, err := cloneOptionsFromArgs(&ok)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Stack != 0x14000 || opts.ExitSignal != abilinux.SIGCHLD || opts.Flags != abilinux.CLONE_VM {
		t.Errorf("got %+v; the stack pointer must be stack+stack_size", opts)
	}
	for name, ca := range map[string]abilinux.CloneArgs{
		"CSIGNAL bits in flags":        {Flags: uint64(abilinux.SIGCHLD)},
		"CLONE_DETACHED":               {Flags: abilinux.CLONE_DETACHED},
		"exit signal high bits":        {ExitSignal: 1 << 32},
		"exit signal out of range":     {ExitSignal: 65},
		"thread with exit signal":      {Flags: abilinux.CLONE_THREAD | abilinux.CLONE_SIGHAND | abilinux.CLONE_VM, ExitSignal: 17},
		"parent with exit signal":      {Flags: abilinux.CLONE_PARENT, ExitSignal: 17},
		"stack without size":           {Stack: 0x1000},
		"size without stack":           {StackSize: 0x1000},
		"stack wraps":                  {Stack: ^uint64(0) - 10, StackSize: 0x1000},
		"set_tid without size":         {SetTID: 0x1000},
		"set_tid_size without set_tid": {SetTIDSize: 1},
		"sighand and clear_sighand":    {Flags: abilinux.CLONE_SIGHAND | abilinux.CLONE_CLEAR_SIGHAND | abilinux.CLONE_VM},
		"unknown flag":                 {Flags: 1 << 40},
	} {
		if _, err := cloneOptionsFromArgs(&ca); err != abilinux.EINVAL {
			t.Errorf("%s: got %v, want EINVAL", name, err)
		}
	}
}

func TestApplySigprocmask(t *testing.T) {
	old := abilinux.MakeSignalSet(abilinux.SIGUSR1)
	set := abilinux.MakeSignalSet(abilinux.SIGUSR1, abilinux.SIGUSR2)
	for _, c := range []struct {
		how  int32
		want abilinux.SignalSet
	}{
		{abilinux.SIG_BLOCK, set},
		{abilinux.SIG_UNBLOCK, 0},
		{abilinux.SIG_SETMASK, set},
	} {
		if got, err := applySigprocmask(old, c.how, set); err != nil || got != c.want {
			t.Errorf("how %d: got %#x, %v; want %#x", c.how, got, err, c.want)
		}
	}
	if _, err := applySigprocmask(old, 3, set); err != abilinux.EINVAL {
		t.Errorf("bad how: %v, want EINVAL", err)
	}
}
