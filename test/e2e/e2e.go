// Package e2e tests runsc end to end, as a user or a container engine
// drives it: through the binary's command line, never its Go API.
package e2e
