// Binary runsc is appkernel's OCI runtime: container engines drive it like
// runc, and it runs each container's programs on the Sentry instead of the
// host kernel.
package main

import (
	"os"

	"appkernel.dev/appkernel/runsc/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
