package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// Cell is one measured value in the table, or the reason there is none.
type Cell struct {
	Value float64
	OK    bool
	// Note is the 1-based footnote explaining a missing value; 0 for none.
	Note int
}

// Value is a present cell.
func Value(v float64) Cell { return Cell{Value: v, OK: true} }

// Ratio returns sandbox/native, the factor by which the sandbox is slower
// (or larger); ok is false when either side is missing or native is not
// positive, where no meaningful ratio exists.
func Ratio(native, sandbox Cell) (float64, bool) {
	if !native.OK || !sandbox.OK || native.Value <= 0 || math.IsNaN(sandbox.Value) || math.IsInf(sandbox.Value, 0) {
		return 0, false
	}
	return sandbox.Value / native.Value, true
}

// Row is one workload's line: the native value, then one value per sandbox
// column, in Table.Sandboxes order.
type Row struct {
	Workload string
	Unit     string
	Native   Cell
	Sandbox  []Cell
	// Target is the goal for the sandbox, shown for information only.
	Target string
}

// Table is the side-by-side report.
type Table struct {
	// Sandboxes names the sandbox columns, e.g. "runsc(systrap)".
	Sandboxes []string
	Rows      []Row
	// Footnotes are the texts behind Cell.Note numbers, deduplicated.
	Footnotes []string
}

// Note returns the footnote number for text, adding it if new, so the same
// error on every row is explained once.
func (t *Table) Note(text string) int {
	for i, f := range t.Footnotes {
		if f == text {
			return i + 1
		}
	}
	t.Footnotes = append(t.Footnotes, text)
	return len(t.Footnotes)
}

// Missing is a cell without a value, explained by footnote text.
func (t *Table) Missing(text string) Cell { return Cell{Note: t.Note(text)} }

// FormatValue prints v with about four significant digits, which is more
// than the run-to-run noise of any of these numbers.
func FormatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// FormatCell prints a cell: its value, or "n/a [N]" pointing at its note.
func FormatCell(c Cell) string {
	if c.OK {
		return FormatValue(c.Value)
	}
	if c.Note > 0 {
		return fmt.Sprintf("n/a [%d]", c.Note)
	}
	return "n/a"
}

// FormatRatio prints sandbox/native with two decimals, as "2.35x", or
// "n/a".
func FormatRatio(native, sandbox Cell) string {
	r, ok := Ratio(native, sandbox)
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", r)
}

// Header returns the column titles.
func (t *Table) Header() []string {
	h := []string{"workload", "unit", "native"}
	for _, s := range t.Sandboxes {
		h = append(h, s, "ratio")
	}
	return append(h, "target")
}

// Cells returns every row as the strings Render prints.
func (t *Table) Cells() [][]string {
	var out [][]string
	for _, r := range t.Rows {
		line := []string{r.Workload, r.Unit, FormatCell(r.Native)}
		for i := range t.Sandboxes {
			c := Cell{}
			if i < len(r.Sandbox) {
				c = r.Sandbox[i]
			}
			line = append(line, FormatCell(c), FormatRatio(r.Native, c))
		}
		out = append(out, append(line, r.Target))
	}
	return out
}

// Render writes the table as an aligned Markdown table (readable as text
// and pasteable into a report), followed by its footnotes.
func (t *Table) Render(w io.Writer) error {
	header := t.Header()
	rows := t.Cells()
	width := make([]int, len(header))
	for _, line := range append([][]string{header}, rows...) {
		for i, c := range line {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	// Names and units read left to right; numbers line up on the right.
	numeric := func(col int) bool { return col >= 2 && col < len(header)-1 }
	var b strings.Builder
	writeLine := func(line []string) {
		b.WriteString("|")
		for i, c := range line {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if numeric(i) {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		b.WriteString("\n")
	}
	writeLine(header)
	b.WriteString("|")
	for i := range header {
		dashes := strings.Repeat("-", width[i])
		if numeric(i) {
			b.WriteString(" " + dashes[:len(dashes)-1] + ": |")
		} else {
			b.WriteString(" " + dashes + " |")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		writeLine(r)
	}
	for i, f := range t.Footnotes {
		fmt.Fprintf(&b, "\n[%d] %s", i+1, f)
	}
	if len(t.Footnotes) > 0 {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
