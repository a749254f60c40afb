package vfs_test

import (
	"context"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func TestFDTable(t *testing.T) {
	e := newEnv(t)
	e.writeFile("/f", "x", 0644)
	file, err := e.open(e.creds, "/f", linux.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.DecRef(e.ctx)
	ctx := e.ctx
	tab := vfs.NewFDTable()

	for want := int32(0); want < 3; want++ {
		if fd, err := tab.NewFD(ctx, 0, file, vfs.FDFlags{}); err != nil || fd != want {
			t.Fatalf("NewFD = %d, %v; want %d", fd, err, want)
		}
	}
	if fd, _ := tab.NewFD(ctx, 10, file, vfs.FDFlags{}); fd != 10 {
		t.Errorf("NewFD(min 10) = %d", fd)
	}
	tab.Remove(1).DecRef(ctx)
	if fd, _ := tab.NewFD(ctx, 0, file, vfs.FDFlags{}); fd != 1 {
		t.Errorf("lowest free = %d, want 1", fd)
	}
	if tab.Remove(55) != nil {
		t.Error("Remove of closed fd returned a file")
	}

	// dup2 onto itself is a no-op returning the fd; dup3 refuses it.
	if fd, err := tab.Dup2(ctx, 2, 2); err != nil || fd != 2 {
		t.Errorf("dup2(2,2) = %d, %v", fd, err)
	}
	_, err = tab.Dup3(ctx, 2, 2, vfs.FDFlags{})
	wantErr(t, "dup3 same", err, linux.EINVAL)
	_, err = tab.Dup2(ctx, 40, 41)
	wantErr(t, "dup2 bad old", err, linux.EBADF)
	if fd, err := tab.Dup3(ctx, 0, 20, vfs.FDFlags{CloseOnExec: true}); err != nil || fd != 20 {
		t.Errorf("dup3 = %d, %v", fd, err)
	}
	if _, fl := tab.Get(20); !fl.CloseOnExec {
		t.Error("dup3 lost O_CLOEXEC")
	} else {
		file.DecRef(ctx) // Get's reference
	}
	if fd, err := tab.Dup(ctx, 0, 5, vfs.FDFlags{}); err != nil || fd != 5 {
		t.Errorf("F_DUPFD 5 = %d, %v", fd, err)
	}

	// Fork copies; the copies are independent.
	child := tab.Fork()
	tab.Remove(0).DecRef(ctx)
	if f, _ := child.Get(0); f == nil {
		t.Error("fork copy lost fd 0")
	} else {
		f.DecRef(ctx)
	}

	// close_range with CLOEXEC marks, then exec closes them.
	wantErr(t, "close_range cloexec", child.CloseRange(ctx, 3, 11, linux.CLOSE_RANGE_CLOEXEC), nil)
	child.RemoveCloseOnExec(ctx)
	for _, fd := range []int32{5, 10, 20} {
		if f, _ := child.Get(fd); f != nil {
			t.Errorf("fd %d survived exec", fd)
			f.DecRef(ctx)
		}
	}
	if child.Count() != 3 {
		t.Errorf("child has %d fds, want 0,1,2", child.Count())
	}
	wantErr(t, "close_range", child.CloseRange(ctx, 1, ^uint32(0), 0), nil)
	if child.Count() != 1 {
		t.Errorf("after close_range: %d", child.Count())
	}
	wantErr(t, "close_range inverted", child.CloseRange(ctx, 5, 4, 0), linux.EINVAL)
	child.DecRef(ctx)

	// RLIMIT_NOFILE.
	limited := context.WithValue(ctx, vfs.CtxNOFILELimit, uint64(3))
	small := vfs.NewFDTable()
	for i := 0; i < 3; i++ {
		if _, err := small.NewFD(limited, 0, file, vfs.FDFlags{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = small.NewFD(limited, 0, file, vfs.FDFlags{})
	wantErr(t, "EMFILE", err, linux.EMFILE)
	_, err = small.NewFDs(limited, 0, []*vfs.FileDescription{file, file}, vfs.FDFlags{})
	wantErr(t, "EMFILE pair", err, linux.EMFILE)
	wantErr(t, "dup2 past limit", small.NewFDAt(limited, 3, file, vfs.FDFlags{}), linux.EBADF)
	_, err = small.Dup(limited, 0, 3, vfs.FDFlags{})
	wantErr(t, "F_DUPFD past limit", err, linux.EINVAL)
	small.DecRef(ctx)
	tab.DecRef(ctx)

	// Every table reference is gone: only ours is left.
	if n := file.ReadRefs(); n != 1 {
		t.Errorf("file refs %d after closing all tables", n)
	}
}
