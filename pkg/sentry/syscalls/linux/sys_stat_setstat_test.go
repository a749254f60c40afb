package linux

import (
	"testing"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
)

func TestTimesOpts(t *testing.T) {
	opts, err := timesOpts(nil)
	if err != nil || opts.Mask != abilinux.STATX_ATIME|abilinux.STATX_MTIME ||
		opts.Atime.Nsec != abilinux.UTIME_NOW || opts.Mtime.Nsec != abilinux.UTIME_NOW {
		t.Fatalf("NULL times: %+v, %v", opts, err)
	}
	opts, err = timesOpts(&[2]abilinux.Timespec{{Sec: 5, Nsec: abilinux.UTIME_OMIT}, {Sec: 99, Nsec: abilinux.UTIME_NOW}})
	if err != nil || opts.Mask != abilinux.STATX_MTIME || opts.Mtime != (abilinux.Timespec{Nsec: abilinux.UTIME_NOW}) {
		t.Fatalf("OMIT/NOW: %+v, %v", opts, err)
	}
	opts, err = timesOpts(&[2]abilinux.Timespec{{Sec: 1, Nsec: 2}, {Sec: 3, Nsec: 4}})
	if err != nil || opts.Atime != (abilinux.Timespec{Sec: 1, Nsec: 2}) || opts.Mtime != (abilinux.Timespec{Sec: 3, Nsec: 4}) {
		t.Fatalf("explicit: %+v, %v", opts, err)
	}
	for _, bad := range []int64{-1, 1000000000, abilinux.UTIME_NOW + 1} {
		if _, err := timesOpts(&[2]abilinux.Timespec{{Nsec: 0}, {Nsec: bad}}); err != abilinux.EINVAL {
			t.Errorf("nsec %d: %v, want EINVAL", bad, err)
		}
	}
}
