package bench

import (
	"math"
	"strings"
	"testing"
)

func TestRatio(t *testing.T) {
	tab := &Table{}
	missing := tab.Missing("runsc: boom")
	for _, c := range []struct {
		native, sandbox Cell
		want            float64
		ok              bool
		text            string
	}{
		{Value(200), Value(500), 2.5, true, "2.50x"},
		{Value(2), Value(1), 0.5, true, "0.50x"},
		{Value(200), missing, 0, false, "n/a"},
		{missing, Value(500), 0, false, "n/a"},
		{Value(0), Value(5), 0, false, "n/a"},
		{Value(1), Value(math.Inf(1)), 0, false, "n/a"},
	} {
		got, ok := Ratio(c.native, c.sandbox)
		if got != c.want || ok != c.ok {
			t.Errorf("Ratio(%+v, %+v) = %v, %v; want %v, %v", c.native, c.sandbox, got, ok, c.want, c.ok)
		}
		if s := FormatRatio(c.native, c.sandbox); s != c.text {
			t.Errorf("FormatRatio(%+v, %+v) = %q, want %q", c.native, c.sandbox, s, c.text)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		0.5123:  "0.512",
		4.4651:  "4.465",
		48.294:  "48.29",
		220.44:  "220.4",
		1234.56: "1235",
		0:       "0.000",
	} {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestNoteDedupes(t *testing.T) {
	tab := &Table{}
	a := tab.Note("runsc: do: not implemented")
	b := tab.Note("other")
	c := tab.Note("runsc: do: not implemented")
	if a != 1 || b != 2 || c != 1 || len(tab.Footnotes) != 2 {
		t.Errorf("notes %d %d %d, footnotes %q", a, b, c, tab.Footnotes)
	}
	if got := FormatCell(tab.Missing("other")); got != "n/a [2]" {
		t.Errorf("FormatCell(missing) = %q", got)
	}
}

func TestRender(t *testing.T) {
	tab := &Table{Sandboxes: []string{"runsc(systrap)", "runsc(ptrace)"}}
	fail := tab.Missing("runsc: do: the sandbox is not implemented yet (exit status 1)")
	tab.Rows = []Row{
		{Workload: "getpid", Unit: "ns/call", Native: Value(220.44), Sandbox: []Cell{Value(551.1), fail}, Target: "<= 1.5 us"},
		{Workload: "peak RSS: getpid", Unit: "MiB", Native: Value(0.53125), Sandbox: []Cell{fail, fail}, Target: "<= 20 MiB"},
	}
	var b strings.Builder
	if err := tab.Render(&b); err != nil {
		t.Fatal(err)
	}
	want := `| workload         | unit    | native | runsc(systrap) | ratio | runsc(ptrace) | ratio | target    |
| ---------------- | ------- | -----: | -------------: | ----: | ------------: | ----: | --------- |
| getpid           | ns/call |  220.4 |          551.1 | 2.50x |       n/a [1] |   n/a | <= 1.5 us |
| peak RSS: getpid | MiB     |  0.531 |        n/a [1] |   n/a |       n/a [1] |   n/a | <= 20 MiB |

[1] runsc: do: the sandbox is not implemented yet (exit status 1)
`
	if got := b.String(); got != want {
		t.Errorf("Render:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderShortRow(t *testing.T) {
	// A row with fewer sandbox cells than columns shows n/a, not a panic.
	tab := &Table{Sandboxes: []string{"runsc(systrap)"}, Rows: []Row{{Workload: "w", Unit: "u", Native: Value(1)}}}
	cells := tab.Cells()
	if got := strings.Join(cells[0], ","); got != "w,u,1.000,n/a,n/a," {
		t.Errorf("cells = %q", got)
	}
}
