package kernel

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestAIORingEvents(t *testing.T) {
	for _, tc := range []struct {
		nrEvents  uint32
		cpus      int
		nr        uint32
		pages     uintptr
		wantError error
	}{
		// Values a 2-CPU Linux 6.x host reports in struct aio_ring.nr.
		{nrEvents: 1, cpus: 2, nr: 127, pages: 1},
		{nrEvents: 4, cpus: 2, nr: 127, pages: 1},
		{nrEvents: 62, cpus: 2, nr: 127, pages: 1},
		// 2*63+2 = 128 events need 32+128*32 bytes: two pages.
		{nrEvents: 63, cpus: 2, nr: 255, pages: 2},
		// Many CPUs raise the floor.
		{nrEvents: 1, cpus: 64, nr: 639, pages: 5},
		{nrEvents: AIOMaxNr, cpus: 2, nr: 131199, pages: 1025},
		{nrEvents: AIOMaxNr + 1, cpus: 2, wantError: linux.EAGAIN},
		{nrEvents: 0x10000000, cpus: 2, wantError: linux.EINVAL},
		// Doubling wraps to zero.
		{nrEvents: 0x80000000, cpus: 2, wantError: linux.EAGAIN},
	} {
		nr, pages, err := aioRingEvents(tc.nrEvents, tc.cpus)
		if err != tc.wantError || nr != tc.nr || pages != tc.pages {
			t.Errorf("aioRingEvents(%d, %d) = %d, %d, %v; want %d, %d, %v", tc.nrEvents, tc.cpus, nr, pages, err, tc.nr, tc.pages, tc.wantError)
		}
	}
}
