package linux

import (
	"testing"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
)

func TestCheckOpenHow(t *testing.T) {
	for _, tc := range []struct {
		name string
		how  abilinux.OpenHow
		want error
	}{
		{"plain", abilinux.OpenHow{Flags: abilinux.O_RDONLY}, nil},
		{"create with mode", abilinux.OpenHow{Flags: abilinux.O_CREAT | abilinux.O_WRONLY, Mode: 0644}, nil},
		{"unknown flag bit", abilinux.OpenHow{Flags: 1 << 40}, abilinux.EINVAL},
		{"mode without create", abilinux.OpenHow{Flags: abilinux.O_RDONLY, Mode: 0644}, abilinux.EINVAL},
		{"mode beyond 07777", abilinux.OpenHow{Flags: abilinux.O_CREAT, Mode: 010000}, abilinux.EINVAL},
		{"O_PATH alone", abilinux.OpenHow{Flags: abilinux.O_PATH | abilinux.O_CLOEXEC | abilinux.O_NOFOLLOW}, nil},
		{"O_PATH with O_RDWR", abilinux.OpenHow{Flags: abilinux.O_PATH | abilinux.O_RDWR}, abilinux.EINVAL},
		{"unknown resolve", abilinux.OpenHow{Resolve: 0x40}, abilinux.EINVAL},
		{"beneath and in-root", abilinux.OpenHow{Resolve: abilinux.RESOLVE_BENEATH | abilinux.RESOLVE_IN_ROOT}, abilinux.EINVAL},
		{"directory and create", abilinux.OpenHow{Flags: abilinux.O_CREAT | abilinux.O_DIRECTORY}, abilinux.EINVAL},
		{"tmpfile read-only", abilinux.OpenHow{Flags: abilinux.O_TMPFILE}, abilinux.EINVAL},
		{"tmpfile without directory bit", abilinux.OpenHow{Flags: (abilinux.O_TMPFILE &^ abilinux.O_DIRECTORY) | abilinux.O_RDWR}, abilinux.EINVAL},
		{"tmpfile", abilinux.OpenHow{Flags: abilinux.O_TMPFILE | abilinux.O_RDWR, Mode: 0600}, nil},
		{"cached create", abilinux.OpenHow{Flags: abilinux.O_CREAT, Resolve: abilinux.RESOLVE_CACHED}, abilinux.EAGAIN},
		{"cached truncate", abilinux.OpenHow{Flags: abilinux.O_TRUNC | abilinux.O_WRONLY, Resolve: abilinux.RESOLVE_CACHED}, abilinux.EAGAIN},
		{"cached lookup", abilinux.OpenHow{Flags: abilinux.O_RDONLY, Resolve: abilinux.RESOLVE_CACHED}, nil},
	} {
		if got := checkOpenHow(&tc.how); got != tc.want {
			t.Errorf("%s: checkOpenHow = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLegacyOpenMode(t *testing.T) {
	if m := legacyOpenMode(abilinux.O_RDONLY, 0644); m != 0 {
		t.Errorf("mode without O_CREAT = %o, want 0", m)
	}
	if m := legacyOpenMode(abilinux.O_CREAT, 0170644); m != 0644 {
		t.Errorf("mode with type bits = %o, want 0644", m)
	}
}

func TestAppendDirent(t *testing.T) {
	b := appendDirent(nil, 7, 42, abilinux.DT_REG, "name")
	if len(b) != abilinux.DirentReclen(4) || len(b)%8 != 0 {
		t.Fatalf("record length %d", len(b))
	}
	if b[16] != byte(len(b)) || string(b[18:22]) != "name" || b[22] != 0 || b[len(b)-1] != abilinux.DT_REG {
		t.Fatalf("record % x", b)
	}
}

func TestCheckRWFlags(t *testing.T) {
	if err := checkRWFlags(abilinux.RWF_HIPRI | abilinux.RWF_NOWAIT | abilinux.RWF_APPEND | abilinux.RWF_DSYNC | abilinux.RWF_SYNC); err != nil {
		t.Errorf("supported flags: %v", err)
	}
	for _, f := range []uint32{rwfNoAppend, rwfAtomic, rwfDontCache, 1 << 20} {
		if err := checkRWFlags(f); err != abilinux.EOPNOTSUPP {
			t.Errorf("flag %#x: %v, want EOPNOTSUPP", f, err)
		}
	}
}
