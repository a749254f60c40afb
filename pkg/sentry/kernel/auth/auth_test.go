package auth

import (
	"context"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestCheckPermissionClasses(t *testing.T) {
	ns := NewRootUserNamespace()
	alice := NewUserCredentials(1000, 1000, []KGID{50}, ns)
	for _, tc := range []struct {
		name string
		mode linux.FileMode
		uid  KUID
		gid  KGID
		ats  AccessTypes
		ok   bool
	}{
		{"owner read", linux.S_IFREG | 0400, 1000, 0, MayRead, true},
		{"owner bits deny even if other allows", linux.S_IFREG | 0047, 1000, 0, MayRead, false},
		{"group via supplementary", linux.S_IFREG | 0040, 0, 50, MayRead, true},
		{"group bits deny even if other allows", linux.S_IFREG | 0007, 0, 1000, MayWrite, false},
		{"other", linux.S_IFREG | 0006, 0, 0, MayRead | MayWrite, true},
		{"other lacks exec", linux.S_IFREG | 0006, 0, 0, MayExec, false},
		{"dir search", linux.S_IFDIR | 0001, 0, 0, MayExec, true},
	} {
		err := CheckPermission(alice, tc.mode, tc.uid, tc.gid, tc.ats)
		if (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && err != linux.EACCES {
			t.Errorf("%s: got %v, want EACCES", tc.name, err)
		}
	}
}

func TestCheckPermissionCapabilities(t *testing.T) {
	ns := NewRootUserNamespace()
	root := NewRootCredentials(ns)
	if err := CheckPermission(root, linux.S_IFREG|0000, 5, 5, MayRead|MayWrite); err != nil {
		t.Errorf("root rw on 000 file: %v", err)
	}
	if err := CheckPermission(root, linux.S_IFREG|0600, 5, 5, MayExec); err != linux.EACCES {
		t.Errorf("root exec on non-executable file: got %v, want EACCES", err)
	}
	if err := CheckPermission(root, linux.S_IFREG|0010, 5, 5, MayExec); err != nil {
		t.Errorf("root exec with group x: %v", err)
	}
	if err := CheckPermission(root, linux.S_IFDIR|0000, 5, 5, MayExec|MayWrite); err != nil {
		t.Errorf("root search+write dir: %v", err)
	}

	rs := NewUserCredentials(1000, 1000, nil, ns)
	rs.EffectiveCaps = CapabilitySetOf(linux.CAP_DAC_READ_SEARCH)
	if err := CheckPermission(rs, linux.S_IFREG|0000, 5, 5, MayRead); err != nil {
		t.Errorf("DAC_READ_SEARCH read: %v", err)
	}
	if err := CheckPermission(rs, linux.S_IFREG|0000, 5, 5, MayWrite); err != linux.EACCES {
		t.Errorf("DAC_READ_SEARCH write: got %v", err)
	}
	if err := CheckPermission(rs, linux.S_IFDIR|0000, 5, 5, MayRead|MayExec); err != nil {
		t.Errorf("DAC_READ_SEARCH dir search: %v", err)
	}
	if err := CheckPermission(rs, linux.S_IFDIR|0000, 5, 5, MayWrite|MayExec); err != linux.EACCES {
		t.Errorf("DAC_READ_SEARCH dir write: got %v", err)
	}
	// A capability that is permitted but not effective does not count.
	rs.PermittedCaps = AllCapabilities
	rs.EffectiveCaps = 0
	if err := CheckPermission(rs, linux.S_IFREG|0000, 5, 5, MayRead); err != linux.EACCES {
		t.Errorf("permitted-only cap: got %v", err)
	}
}

func TestCanActAsOwner(t *testing.T) {
	ns := NewRootUserNamespace()
	u := NewUserCredentials(1000, 1000, nil, ns)
	if !CanActAsOwner(u, 1000) || CanActAsOwner(u, 1001) {
		t.Error("owner test wrong")
	}
	u.EffectiveCaps = CapabilitySetOf(linux.CAP_FOWNER)
	if !CanActAsOwner(u, 1001) {
		t.Error("CAP_FOWNER ignored")
	}
}

func TestContext(t *testing.T) {
	anon := CredentialsFromContext(context.Background())
	if anon.EffectiveKUID != OverflowKUID || anon.EffectiveCaps != 0 {
		t.Errorf("anonymous creds: %+v", anon)
	}
	c := NewUserCredentials(7, 8, nil, NewRootUserNamespace())
	if got := CredentialsFromContext(ContextWithCredentials(context.Background(), c)); got != c {
		t.Errorf("got %p want %p", got, c)
	}
}

func TestForkIsolatesGroups(t *testing.T) {
	c := NewUserCredentials(1, 1, []KGID{2, 3}, NewRootUserNamespace())
	f := c.Fork()
	f.ExtraKGIDs[0] = 99
	if c.ExtraKGIDs[0] != 2 {
		t.Error("Fork shares the group slice")
	}
}

func TestNamespaceOwnerHasCaps(t *testing.T) {
	root := NewRootUserNamespace()
	u := NewUserCredentials(1000, 1000, nil, root)
	child := &UserNamespace{parent: root, owner: 1000}
	if !u.HasCapabilityIn(linux.CAP_SYS_ADMIN, child) {
		t.Error("owner of child namespace lacks caps in it")
	}
	if u.HasCapability(linux.CAP_SYS_ADMIN) {
		t.Error("unprivileged user has caps in own namespace")
	}
}
