package main

import (
	"bufio"
	"errors"
	"fmt"
	"go/token"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// arches lists the architectures the spec has a number column for, in
// column order. Adding one means a new column in every spec line.
var arches = []string{"amd64", "arm64"}

// absent marks an architecture that does not have the syscall.
const absent = -1

// maxSysno bounds syscall numbers. Tables are dense slices indexed by
// number, so a typo such as 4620 for 462 would silently allocate a huge
// table; real numbers on amd64 and arm64 stay well below this.
const maxSysno = 1023

// Level is a support level as written in the spec. The words match
// kernel.SyscallSupport.String so logs, spec and report use one vocabulary.
type Level int

const (
	LevelNotImpl Level = iota
	LevelUnsupported
	LevelPartial
	LevelFull
)

var levelWords = map[Level]string{
	LevelNotImpl:     "notimpl",
	LevelUnsupported: "unsupported",
	LevelPartial:     "partial",
	LevelFull:        "full",
}

// levelConsts names the kernel constant each level generates.
var levelConsts = map[Level]string{
	LevelNotImpl:     "kernel.SupportNotImplemented",
	LevelUnsupported: "kernel.SupportUnsupported",
	LevelPartial:     "kernel.SupportPartial",
	LevelFull:        "kernel.SupportFull",
}

func (l Level) String() string { return levelWords[l] }

// hasHandler reports whether entries at this level must name a handler and
// entries at other levels must not: a handler is what makes a call (even
// partly) supported.
func (l Level) hasHandler() bool { return l == LevelFull || l == LevelPartial }

// Entry is one spec line.
type Entry struct {
	Line    int
	Name    string
	Nums    []int  // per arches; absent if the arch lacks the syscall
	Handler string // Go function in package linux; "" for none
	Level   Level
	Errno   string // for LevelUnsupported; always a name from errnos
	Note    string
}

// Num returns the entry's number on arch, or absent.
func (e *Entry) Num(arch string) int {
	for i, a := range arches {
		if a == arch {
			return e.Nums[i]
		}
	}
	return absent
}

// Spec is a parsed and validated syscall spec.
type Spec struct {
	Entries []Entry
}

// ParseSpec reads a spec and checks it. name is used in error messages,
// which have the form "name:line: problem" so editors can jump to them. All
// problems are reported, not just the first.
func ParseSpec(r io.Reader, name string) (*Spec, error) {
	p := &specParser{file: name}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		p.parseLine(line, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.checkUnique()
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	if len(p.spec.Entries) == 0 {
		return nil, fmt.Errorf("%s: no syscalls", name)
	}
	return &p.spec, nil
}

type specParser struct {
	file string
	spec Spec
	errs []error
}

func (p *specParser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...)))
}

var syscallName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// fixedColumns is the number of columns before the free-text note.
var fixedColumns = 3 + len(arches)

func (p *specParser) parseLine(line int, text string) {
	trimmed := strings.TrimSpace(text)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return
	}
	fields := strings.Fields(trimmed)
	if len(fields) < fixedColumns {
		p.errorf(line, "want at least %d columns (name %s handler support [note]), got %d",
			fixedColumns, strings.Join(arches, " "), len(fields))
		return
	}
	e := Entry{Line: line, Name: fields[0], Note: noteAfter(trimmed, fixedColumns)}
	ok := true
	if !syscallName.MatchString(e.Name) {
		p.errorf(line, "syscall name %q: want lower-case letters, digits and underscores", e.Name)
		ok = false
	}

	anyNum := false
	for i, arch := range arches {
		n, err := parseNum(fields[1+i])
		if err != nil {
			p.errorf(line, "%s: %s number: %v", e.Name, arch, err)
			ok = false
		}
		e.Nums = append(e.Nums, n)
		anyNum = anyNum || n != absent
	}
	if ok && !anyNum {
		p.errorf(line, "%s: absent on every architecture; delete the line instead", e.Name)
		ok = false
	}

	handler := fields[1+len(arches)]
	if handler != "-" {
		if !token.IsIdentifier(handler) || !token.IsExported(handler) {
			p.errorf(line, "%s: handler %q is not an exported Go identifier", e.Name, handler)
			ok = false
		}
		e.Handler = handler
	}

	level, errno, err := parseLevel(fields[2+len(arches)])
	if err != nil {
		p.errorf(line, "%s: %v", e.Name, err)
		ok = false
	}
	e.Level, e.Errno = level, errno
	if err == nil {
		switch {
		case level.hasHandler() && e.Handler == "":
			p.errorf(line, "%s: support %q needs a handler; use notimpl until the handler exists", e.Name, level)
			ok = false
		case !level.hasHandler() && e.Handler != "":
			p.errorf(line, "%s: support %q must not name a handler (got %s); use full or partial", e.Name, level, e.Handler)
			ok = false
		}
	}
	if ok {
		p.spec.Entries = append(p.spec.Entries, e)
	}
}

// noteAfter returns the text after the first n whitespace-separated fields,
// keeping the note's own spacing.
func noteAfter(s string, n int) string {
	for range n {
		s = strings.TrimLeft(s, " \t")
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			return ""
		}
		s = s[i:]
	}
	return strings.TrimSpace(s)
}

func parseNum(s string) (int, error) {
	if s == "-" {
		return absent, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal number or -", s)
	}
	if n > maxSysno {
		return 0, fmt.Errorf("%d is above %d; is it a typo?", n, maxSysno)
	}
	return n, nil
}

// parseLevel parses the support column: full, partial, notimpl, unsupported
// or unsupported:ERRNO. Bare unsupported means ENOSYS.
func parseLevel(s string) (Level, string, error) {
	word, errno, hasErrno := strings.Cut(s, ":")
	var level Level
	found := false
	for l, w := range levelWords {
		if w == word {
			level, found = l, true
		}
	}
	if !found {
		return 0, "", fmt.Errorf("unknown support level %q; want full, partial, unsupported[:ERRNO] or notimpl", s)
	}
	if level != LevelUnsupported {
		if hasErrno {
			return 0, "", fmt.Errorf("support level %q: only unsupported takes an errno (%s always fails with ENOSYS)", s, word)
		}
		return level, "", nil
	}
	if !hasErrno {
		return level, "ENOSYS", nil
	}
	if _, ok := errnos[errno]; !ok {
		return 0, "", fmt.Errorf("support level %q: unknown errno %q; want a Linux name such as EPERM or ENOSYS", s, errno)
	}
	return level, errno, nil
}

// checkUnique reports names and per-arch numbers used twice, naming both
// lines, and lines out of name order: sorted lines make it obvious where a
// new syscall goes and keep diffs small.
func (p *specParser) checkUnique() {
	names := map[string]*Entry{}
	nums := make([]map[int]*Entry, len(arches))
	for i := range nums {
		nums[i] = map[int]*Entry{}
	}
	for i := range p.spec.Entries {
		e := &p.spec.Entries[i]
		if i > 0 {
			if prev := &p.spec.Entries[i-1]; e.Name < prev.Name {
				p.errorf(e.Line, "%s is out of order: it sorts before %s (line %d); keep the spec sorted by name", e.Name, prev.Name, prev.Line)
			}
		}
		if first, dup := names[e.Name]; dup {
			p.errorf(e.Line, "duplicate syscall name %s (first on line %d)", e.Name, first.Line)
		} else {
			names[e.Name] = e
		}
		for a, n := range e.Nums {
			if n == absent {
				continue
			}
			if first, dup := nums[a][n]; dup {
				p.errorf(e.Line, "duplicate %s number %d: %s and %s (line %d)", arches[a], n, e.Name, first.Name, first.Line)
			} else {
				nums[a][n] = e
			}
		}
	}
}
