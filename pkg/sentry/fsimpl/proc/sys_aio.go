package proc

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// addAIOSysctls adds /proc/sys/fs/aio-nr (the nr_events of the live
// io_setup(2) contexts, summed) and aio-max-nr (the bound io_setup checks
// that sum against). Both are read-only: the bound is Linux's default.
func (fs *filesystem) addAIOSysctls(file func(c *staticContents, name string, f func() string), fsDir *staticContents) {
	k := fs.k
	file(fsDir, "aio-nr", func() string { return fmt.Sprint(k.AIOContextCount()) })
	file(fsDir, "aio-max-nr", func() string { return fmt.Sprint(kernel.AIOMaxNr) })
}
