package arch

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestSignalStackState(t *testing.T) {
	alt := linux.SignalStack{Addr: 0x1000, Size: 0x1000}
	autodisarm := alt
	autodisarm.Flags = -1 << 31 // SS_AUTODISARM
	for _, tc := range []struct {
		name  string
		alt   linux.SignalStack
		sp    uint64
		on    bool
		state int32
	}{
		{"below", alt, 0x1000, false, 0},
		{"just inside the bottom", alt, 0x1001, true, linux.SS_ONSTACK},
		{"at the top (before the first push)", alt, 0x2000, true, linux.SS_ONSTACK},
		{"above", alt, 0x2001, false, 0},
		{"disabled", linux.SignalStack{Flags: linux.SS_DISABLE}, 0x1800, false, linux.SS_DISABLE},
		{"disabled flag with a stale size", linux.SignalStack{Addr: 0x1000, Size: 0x1000, Flags: linux.SS_DISABLE}, 0x1800, false, linux.SS_DISABLE},
		{"autodisarm never counts as on", autodisarm, 0x1800, false, 0},
	} {
		if got := OnSignalStack(tc.alt, tc.sp); got != tc.on {
			t.Errorf("%s: OnSignalStack = %v", tc.name, got)
		}
		if got := SignalStackState(tc.alt, tc.sp); got != tc.state {
			t.Errorf("%s: SignalStackState = %d, want %d", tc.name, got, tc.state)
		}
	}
}

func TestSignalFrameStack(t *testing.T) {
	alt := linux.SignalStack{Addr: 0x1000, Size: 0x1000}
	if sp, sw := signalFrameStack(alt, linux.SA_ONSTACK, 0x9000); sp != 0x2000 || !sw {
		t.Errorf("off the alt stack: %#x %v", sp, sw)
	}
	if sp, sw := signalFrameStack(alt, linux.SA_ONSTACK, 0x1800); sp != 0x1800 || sw {
		t.Errorf("on the alt stack: %#x %v", sp, sw)
	}
	if sp, sw := signalFrameStack(alt, 0, 0x9000); sp != 0x9000 || sw {
		t.Errorf("without SA_ONSTACK: %#x %v", sp, sw)
	}
}
