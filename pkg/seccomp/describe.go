package seccomp

import (
	"fmt"
	"slices"
	"strings"
)

// Describe renders rs as a Markdown table, one row per syscall sorted by
// name (name gives a number's name), with the action and the conditions
// under which it applies, followed by the default. Documentation
// generated from it cannot drift from the rules.
func Describe(rs RuleSet, name func(nr uintptr) string) string {
	type row struct{ name, action, when string }
	var rows []row
	for _, s := range rs.Sections {
		for nr, rules := range s.Syscalls {
			when := "always"
			if len(rules) > 0 {
				var conds []string
				for _, r := range rules {
					c := r.String()
					if c == "*" {
						conds = []string{"always"}
						break
					}
					conds = append(conds, "`"+c+"`")
				}
				when = strings.Join(conds, "<br>or ")
			}
			rows = append(rows, row{fmt.Sprintf("%s (%d)", name(nr), nr), s.Action.String(), when})
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int { return strings.Compare(a.name, b.name) })
	var b strings.Builder
	b.WriteString("| syscall | action | when |\n| --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.name, r.action, r.when)
	}
	fmt.Fprintf(&b, "| anything else | %s | |\n", rs.Default)
	return b.String()
}
