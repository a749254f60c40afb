package linux

import (
	"context"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/fsimpl/pipe"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

func TestPollSetScan(t *testing.T) {
	ctx := context.Background()
	creds := auth.NewRootCredentials(auth.NewRootUserNamespace())
	r, w, err := pipe.NewFS(vfs.New()).NewConnectedFDs(ctx, creds, 0)
	if err != nil {
		t.Fatal(err)
	}
	var s pollSet
	s.add(r, selectIn)
	s.add(nil, waiter.EventIn)
	s.add(w, selectOut)
	if n := s.scan(); n != 1 || s.ready[0] != 0 || s.ready[2]&waiter.EventOut == 0 {
		t.Fatalf("empty pipe: n=%d ready=%v", n, s.ready)
	}
	if _, err := w.Write(ctx, vfs.BytesIOSequence([]byte("x")), vfs.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := s.scan(); n != 2 || s.ready[0]&waiter.EventIn == 0 {
		t.Fatalf("after a write: n=%d ready=%v", n, s.ready)
	}
	// Closing the writer: the reader sees HUP, which select counts as
	// readable, even when only EventIn was asked for.
	w.DecRef(ctx)
	s.files[2] = nil
	s.masks[0] = waiter.EventIn
	r.Read(ctx, vfs.BytesIOSequence(make([]byte, 1)), vfs.ReadOptions{})
	if n := s.scan(); n != 1 || s.ready[0] != waiter.EventHUp {
		t.Fatalf("after hang-up: n=%d ready=%v", n, s.ready)
	}
	r.DecRef(ctx)
}

func TestPollTimeout(t *testing.T) {
	if to := timeoutAfter(0); !to.zero || !to.finite {
		t.Errorf("zero timeout: %+v", to)
	}
	if to := timeoutAfter(-5); !to.zero {
		t.Errorf("negative duration: %+v", to)
	}
	to := timeoutAfter(1 << 40)
	if to.zero || !to.finite || to.remaining() <= 0 {
		t.Errorf("long timeout: %+v", to)
	}
	if (pollTimeout{}).finite {
		t.Error("zero value must wait forever")
	}
}
