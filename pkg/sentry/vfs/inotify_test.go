package vfs_test

import (
	"encoding/binary"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

type inotifyEv struct {
	wd   int32
	mask uint32
	name string
}

// readEvents decodes what one read of in returns.
func readEvents(t *testing.T, e *env, in *vfs.FileDescription, size int) ([]inotifyEv, error) {
	t.Helper()
	b := make([]byte, size)
	n, err := in.Read(e.ctx, vfs.BytesIOSequence(b), vfs.ReadOptions{})
	if err != nil {
		return nil, err
	}
	var evs []inotifyEv
	for b = b[:n]; len(b) > 0; {
		l := int(binary.LittleEndian.Uint32(b[12:]))
		if l%16 != 0 {
			t.Fatalf("name length %d is not padded to 16", l)
		}
		name := string(b[16 : 16+l])
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		evs = append(evs, inotifyEv{int32(binary.LittleEndian.Uint32(b)), binary.LittleEndian.Uint32(b[4:]), name})
		b = b[16+l:]
	}
	return evs, nil
}

func TestInotifyQueue(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/w", 0755)
	in := e.vfs.NewInotifyFD(linux.IN_NONBLOCK)
	defer in.DecRef(e.ctx)
	ino := in.Impl().(*vfs.Inotify)
	vd, err := e.vfs.GetDentryAt(e.ctx, e.creds, e.pop("/w"), nil)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := ino.AddWatch(e.ctx, e.creds, vd, linux.IN_CREATE|linux.IN_MODIFY)
	vd.DecRef()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readEvents(t, e, in, 4096); err != linux.EAGAIN {
		t.Fatalf("read of an empty queue: %v, want EAGAIN", err)
	}
	e.writeFile("/w/a-long-name-of-17", "x", 0644)
	// Too small for the first event (16 + 32 bytes).
	if _, err := readEvents(t, e, in, 47); err != linux.EINVAL {
		t.Fatalf("short read: %v, want EINVAL", err)
	}
	evs, err := readEvents(t, e, in, 4096)
	if err != nil {
		t.Fatal(err)
	}
	want := []inotifyEv{{wd, linux.IN_CREATE, "a-long-name-of-17"}, {wd, linux.IN_MODIFY, "a-long-name-of-17"}}
	if len(evs) != len(want) || evs[0] != want[0] || evs[1] != want[1] {
		t.Fatalf("events %v, want %v", evs, want)
	}

	// Identical events merge; a full queue ends with one overflow.
	f, err := e.open(e.creds, "/w/a-long-name-of-17", linux.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef(e.ctx)
	for range 3 {
		f.PWrite(e.ctx, vfs.BytesIOSequence([]byte("y")), 0, vfs.WriteOptions{})
	}
	if evs, _ := readEvents(t, e, in, 4096); len(evs) != 1 {
		t.Fatalf("repeated writes: %v, want one event", evs)
	}
	for i := range linux.INOTIFY_MAX_QUEUED_EVENTS + 10 {
		// Alternate names so nothing merges.
		e.writeFile("/w/"+string(rune('a'+i%2)), "", 0644)
	}
	total, last := 0, inotifyEv{}
	for {
		evs, err := readEvents(t, e, in, 1<<20)
		if err == linux.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total += len(evs)
		last = evs[len(evs)-1]
	}
	if total != linux.INOTIFY_MAX_QUEUED_EVENTS+1 || last.wd != -1 || last.mask != linux.IN_Q_OVERFLOW {
		t.Fatalf("%d events ending with %+v, want %d ending with IN_Q_OVERFLOW", total, last, linux.INOTIFY_MAX_QUEUED_EVENTS+1)
	}
	if err := ino.RemoveWatch(wd); err != nil {
		t.Fatal(err)
	}
	if evs, _ := readEvents(t, e, in, 4096); len(evs) != 1 || evs[0].mask != linux.IN_IGNORED {
		t.Fatalf("after rm_watch: %v, want IN_IGNORED", evs)
	}
	if err := ino.RemoveWatch(wd); err != linux.EINVAL {
		t.Fatalf("second rm_watch: %v, want EINVAL", err)
	}
}

func TestInotifyCheckMask(t *testing.T) {
	for _, c := range []struct {
		mask uint32
		ok   bool
	}{
		{0, false}, {0x00800000, false}, {linux.IN_MODIFY, true}, {linux.IN_ONLYDIR, true},
		{linux.IN_MODIFY | linux.IN_MASK_ADD | linux.IN_MASK_CREATE, false},
	} {
		if err := vfs.InotifyCheckMask(c.mask); (err == nil) != c.ok {
			t.Errorf("InotifyCheckMask(%#x) = %v", c.mask, err)
		}
	}
}
