package boot

import (
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/fsimpl/cgroupfs"
)

func TestCgroupLimitsV2(t *testing.T) {
	for _, tc := range []struct {
		in   CgroupLimits
		want cgroupfs.Limits
	}{
		{CgroupLimits{}, cgroupfs.Limits{}},
		{CgroupLimits{MemoryLimit: -1, MemorySwap: -1, CPUQuota: -1, PidsLimit: -1}, cgroupfs.Limits{}},
		{
			CgroupLimits{MemoryLimit: 256 << 20, CPUQuota: 50000, CPUPeriod: 100000, PidsLimit: 64},
			cgroupfs.Limits{
				MemoryMax: cgroupfs.Limited(256 << 20), CPUQuota: cgroupfs.Limited(50000), CPUPeriod: 100000,
				PidsMax: cgroupfs.Limited(64),
			},
		},
		// memory.swap counts memory and swap; -1 is no swap limit.
		{CgroupLimits{MemoryLimit: 100, MemorySwap: 300}, cgroupfs.Limits{MemoryMax: cgroupfs.Limited(100), MemorySwapMax: cgroupfs.Limited(200)}},
		{CgroupLimits{MemoryLimit: 100, MemorySwap: 100}, cgroupfs.Limits{MemoryMax: cgroupfs.Limited(100), MemorySwapMax: cgroupfs.Limited(0)}},
		{CgroupLimits{MemoryLimit: 100, MemorySwap: -1}, cgroupfs.Limits{MemoryMax: cgroupfs.Limited(100)}},
		// Docker's default shares, 1024, are weight 39; the extremes
		// are 1 and 10000.
		{CgroupLimits{CPUShares: 1024}, cgroupfs.Limits{CPUWeight: 39}},
		{CgroupLimits{CPUShares: 2}, cgroupfs.Limits{CPUWeight: 1}},
		{CgroupLimits{CPUShares: 262144}, cgroupfs.Limits{CPUWeight: 10000}},
		{CgroupLimits{CPUShares: 1 << 30}, cgroupfs.Limits{CPUWeight: 10000}},
	} {
		if got := tc.in.v2(); got != tc.want {
			t.Errorf("%+v: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
