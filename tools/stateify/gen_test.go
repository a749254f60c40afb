package main

import "testing"

func TestUsesName(t *testing.T) {
	for _, tc := range []struct {
		code, name string
		want       bool
	}{
		{`x := kernel.Foo`, "kernel", true},
		{`"appkernel.dev/appkernel/pkg/x.T"`, "kernel", false},
		{`(kernel.T)`, "kernel", true},
		{`mykernel.T`, "kernel", false},
		{`appkernel.x kernel.y`, "kernel", true},
	} {
		if got := usesName([]byte(tc.code), tc.name); got != tc.want {
			t.Errorf("usesName(%q, %q) = %v, want %v", tc.code, tc.name, got, tc.want)
		}
	}
}
