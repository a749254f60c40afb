package lisafs

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func sampleStat(seed uint64) Stat {
	return Stat{
		Mask: 0x7ff, Mode: linux.S_IFREG | 0o644, Nlink: 2, UID: 1000, GID: 100, Blksize: 4096,
		Ino: seed, Size: 1 << 40, Blocks: 8,
		Atime: Timestamp{Sec: -1, Nsec: 999999999}, Mtime: Timestamp{Sec: 2, Nsec: 3},
		Ctime: Timestamp{Sec: 4, Nsec: 5}, Btime: Timestamp{Sec: 6, Nsec: 7},
		DevMajor: 8, DevMinor: 9, RdevMajor: 10, RdevMinor: 11,
	}
}

// allMessages holds one populated value of every body type, so that a
// field an encoder forgets shows up as a round-trip difference.
func allMessages() []message {
	return []message{
		&MountReq{Export: "/"},
		&MountResp{Root: Inode{FD: 3, Stat: sampleStat(1)}, ReadOnly: true},
		&WalkReq{Dir: 7, Names: []string{"a", "bb", "ccc"}},
		&WalkResp{Status: WalkSymlink, Errno: 2, Inodes: []Inode{{FD: 1, Stat: sampleStat(2)}, {FD: 2, Stat: sampleStat(3)}}},
		&WalkStatResp{Status: WalkNotFound, Errno: 2, Stats: []Stat{sampleStat(4)}},
		&FDReq{FD: 1<<64 - 1},
		&StatResp{Stat: sampleStat(5)},
		&OpenReq{FD: 9, Flags: 0o2102},
		&OpenResp{FD: 10},
		&OpenCreateReq{Dir: 1, Name: "f", Flags: 2, Mode: 0o600, UID: NoID, GID: 5},
		&OpenCreateResp{Node: Inode{FD: 4, Stat: sampleStat(6)}, FD: 5},
		&MkdirReq{Dir: 1, Name: "d", Mode: 0o755, UID: 1, GID: 2},
		&SymlinkReq{Dir: 1, Name: "l", Target: "../../x", UID: 3, GID: 4},
		&LinkReq{Dir: 1, Name: "h", Target: 8},
		&InodeResp{Inode: Inode{FD: 6, Stat: sampleStat(7)}},
		&UnlinkReq{Dir: 1, Name: "u", Flags: linux.AT_REMOVEDIR},
		&RenameReq{OldDir: 1, OldName: "a", NewDir: 2, NewName: "b", Flags: 1},
		&ReadlinkResp{Target: strings.Repeat("x", 4000)},
		&Getdents64Req{FD: 3, Cookie: 1 << 62, Count: 65536},
		&Getdents64Resp{Dirents: []Dirent{{Ino: 1, Off: 2, Type: 4, Name: "one"}, {Ino: 3, Off: 4, Type: 8, Name: "two"}}},
		&SetStatReq{FD: 2, Mask: 63, Mode: 0o4755, UID: 1, GID: 2, Size: 3, Atime: Timestamp{Sec: 4, Nsec: UtimeNow}, Mtime: Timestamp{Nsec: UtimeOmit}},
		&StatFSResp{StatFS: StatFS{Type: 0xef53, BlockSize: 4096, Blocks: 1, BlocksFree: 2, BlocksAvailable: 3, Files: 4, FilesFree: 5, NameLength: 255, FragmentSize: 4096, Flags: 32}},
		&FDsReq{FDs: []FDID{1, 2, 3}},
		&Empty{},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range allMessages() {
		e := newEncoder(nil)
		m.encode(&e)
		msg := e.finish(MsgWalk, 0, 42)
		var h Header
		h.get(msg)
		if int(h.Size) != len(msg) || h.Tag != 42 || h.Type != MsgWalk {
			t.Fatalf("%T: header %+v for %d bytes", m, h, len(msg))
		}
		got := reflect.New(reflect.TypeOf(m).Elem()).Interface().(message)
		d := decoder{buf: msg[HeaderSize:]}
		got.decode(&d)
		if err := d.done(); err != nil {
			t.Fatalf("%T: decode: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%T: round trip\n got %+v\nwant %+v", m, got, m)
		}
		// Every strict prefix of a non-empty body must be refused.
		body := msg[HeaderSize:]
		for n := 0; n < len(body); n++ {
			trunc := reflect.New(reflect.TypeOf(m).Elem()).Interface().(message)
			d := decoder{buf: body[:n]}
			trunc.decode(&d)
			if d.done() == nil {
				t.Fatalf("%T: %d-byte prefix of %d decoded cleanly", m, n, len(body))
			}
		}
		// So must trailing garbage.
		d = decoder{buf: append(append([]byte(nil), body...), 0)}
		got.decode(&d)
		if d.done() == nil {
			t.Errorf("%T: trailing byte accepted", m)
		}
	}
}

func TestStatWireSize(t *testing.T) {
	s := sampleStat(1)
	e := newEncoder(nil)
	s.encode(&e)
	if got := len(e.buf) - HeaderSize; got != statWireSize {
		t.Fatalf("Stat encodes to %d bytes, statWireSize is %d", got, statWireSize)
	}
}

func TestHostileCount(t *testing.T) {
	// A count of 65535 inodes with a few bytes behind it must fail fast,
	// not allocate 65535 inodes.
	body := []byte{0, 0, 0, 0xff, 0xff, 1, 2, 3}
	var r WalkResp
	d := decoder{buf: body}
	r.decode(&d)
	if d.done() == nil || len(r.Inodes) != 0 {
		t.Fatalf("hostile count decoded: %d inodes", len(r.Inodes))
	}
}

func TestErrnoOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want uint16
	}{
		{linux.ENOENT, 2},
		{errors.Join(errors.New("ctx"), linux.EROFS), 30},
		{errors.New("plain"), uint16(linux.EIO)},
	} {
		if got := errnoOf(c.err); got != c.want {
			t.Errorf("errnoOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestMsgTypeString(t *testing.T) {
	if MsgGetdents64.String() != "Getdents64" || MsgType(999).String() != "MsgType(999)" {
		t.Fatalf("names: %v %v", MsgGetdents64, MsgType(999))
	}
	for ty := MsgMount; ty < msgEnd; ty++ {
		if strings.HasPrefix(ty.String(), "MsgType(") {
			t.Errorf("type %d has no name", ty)
		}
	}
}
