package proc

import (
	"bytes"
	"fmt"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// writeSeccompStatus writes status's NoNewPrivs, Seccomp and
// Seccomp_filters lines for t.
func writeSeccompStatus(b *bytes.Buffer, t *kernel.Task) {
	nnp := 0
	if t.NoNewPrivs() {
		nnp = 1
	}
	fmt.Fprintf(b, "NoNewPrivs:\t%d\nSeccomp:\t%d\nSeccomp_filters:\t%d\n", nnp, t.SeccompMode(), t.SeccompFilterCount())
}
