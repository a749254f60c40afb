// Package platformtest holds hand-assembled test programs shared by the
// platform implementations' tests, so each platform is checked against the
// same machine code. Only tests import it.
package platformtest
