// Package cmd holds runsc's subcommands, one per file.
package cmd

import (
	"fmt"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/runsc/config"
)

// failf reports a failed command on every log output and returns the exit
// status that says so.
func failf(format string, args ...any) subcommands.ExitStatus {
	log.Warningf(format, args...)
	return subcommands.ExitFailure
}

// usagef reports a command line the subcommand cannot use.
func usagef(format string, args ...any) subcommands.ExitStatus {
	log.Warningf(format, args...)
	return subcommands.ExitUsageError
}

// configFrom extracts the global configuration that cli passes to every
// subcommand's Execute.
func configFrom(args []any) *config.Config {
	if len(args) == 0 {
		panic("runsc/cmd: subcommand executed without its configuration")
	}
	conf, ok := args[0].(*config.Config)
	if !ok {
		panic(fmt.Sprintf("runsc/cmd: unexpected Execute argument %T", args[0]))
	}
	return conf
}
