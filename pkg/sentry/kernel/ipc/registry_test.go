package ipc

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

type obj struct{ p Perm }

func (o *obj) IPCPerm() *Perm { return &o.p }

func get(r *Registry[*obj], creds *auth.Credentials, key, flags int32, max int) (*obj, error) {
	return r.Get(GetArgs[*obj]{
		Key: key, Flags: flags, Creds: creds, Max: max,
		Create: func() (*obj, error) { return &obj{p: NewPerm(creds, key, flags)}, nil },
	})
}

func TestGetRules(t *testing.T) {
	root := auth.NewRootCredentials(auth.NewRootUserNamespace())
	r := NewRegistry[*obj]()
	if _, err := get(r, root, 7, 0600, 10); err != linux.ENOENT {
		t.Fatalf("missing key: %v, want ENOENT", err)
	}
	a, err := get(r, root, 7, linux.IPC_CREAT|0600, 10)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := get(r, root, 7, 0, 10); err != nil || b != a {
		t.Fatalf("lookup by key: %v %v", b, err)
	}
	if _, err := get(r, root, 7, linux.IPC_CREAT|linux.IPC_EXCL, 10); err != linux.EEXIST {
		t.Fatalf("IPC_EXCL: %v, want EEXIST", err)
	}
	p1, _ := get(r, root, linux.IPC_PRIVATE, 0, 10)
	p2, _ := get(r, root, linux.IPC_PRIVATE, 0, 10)
	if p1 == p2 || p1.p.ID == p2.p.ID {
		t.Fatal("IPC_PRIVATE reused an object")
	}
	if got, err := r.Lookup(a.p.ID); err != nil || got != a {
		t.Fatalf("Lookup: %v %v", got, err)
	}
	// A stale ID (same index, another sequence) is EINVAL.
	if _, err := r.Lookup(a.p.ID + MaxIndex); err != linux.EINVAL {
		t.Fatalf("stale ID: %v", err)
	}
	r.MakePrivate(a)
	if _, err := get(r, root, 7, 0, 10); err != linux.ENOENT {
		t.Fatalf("after MakePrivate: %v", err)
	}
	r.Remove(a)
	if _, err := r.Lookup(a.p.ID); err != linux.EINVAL {
		t.Fatalf("after Remove: %v", err)
	}
}

func TestLimitAndReuse(t *testing.T) {
	root := auth.NewRootCredentials(auth.NewRootUserNamespace())
	r := NewRegistry[*obj]()
	var objs []*obj
	for i := 0; i < 3; i++ {
		o, err := get(r, root, linux.IPC_PRIVATE, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	if _, err := get(r, root, linux.IPC_PRIVATE, 0, 3); err != linux.ENOSPC {
		t.Fatalf("past the limit: %v, want ENOSPC", err)
	}
	r.Remove(objs[1])
	o, err := get(r, root, linux.IPC_PRIVATE, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	// The freed index is reused with a new sequence number, so the old
	// ID stays invalid.
	if o.p.ID%MaxIndex != objs[1].p.ID%MaxIndex || o.p.ID == objs[1].p.ID {
		t.Fatalf("reuse: old %d new %d", objs[1].p.ID, o.p.ID)
	}
	if r.HighestIndex() != 2 || r.InUse() != 3 {
		t.Fatalf("HighestIndex %d InUse %d", r.HighestIndex(), r.InUse())
	}
}

func TestAccess(t *testing.T) {
	ns := auth.NewRootUserNamespace()
	owner := auth.NewUserCredentials(1000, 1000, nil, ns)
	other := auth.NewUserCredentials(2000, 2000, nil, ns)
	group := auth.NewUserCredentials(3000, 1000, nil, ns)
	p := NewPerm(owner, 1, 0640)
	for _, c := range []struct {
		creds *auth.Credentials
		flag  uint32
		want  bool
	}{
		{owner, 0600, true},
		{owner, 0700, false},
		{group, 0444, true},
		{group, 0222, false},
		{other, 0444, false},
		{other, 0, true},
	} {
		if got := p.Access(c.creds, c.flag); got != c.want {
			t.Errorf("Access(uid %d, %o) = %v, want %v", c.creds.EffectiveKUID, c.flag, got, c.want)
		}
	}
	if !p.IsOwner(owner) || p.IsOwner(other) {
		t.Error("IsOwner")
	}
}
