package main

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

type config struct {
	dir     string
	out     string
	pkgPath string
}

// sourceFile is one parsed input file and what its types' generated code
// inherits from it: import names and build constraints.
type sourceFile struct {
	name    string
	syntax  *ast.File
	imports map[string]string // name used in the file -> import path
	// build is the file's //go:build expression, "" if none; suffix is the
	// "_os_arch" part of its name that also constrains it, "" if none.
	build  string
	suffix string
}

func (f *sourceFile) constrained() bool { return f.build != "" || f.suffix != "" }

type typeDecl struct {
	name    string
	spec    *ast.TypeSpec
	file    *sourceFile
	savable bool
}

// pkg is everything stateify knows about the package: it sees syntax only,
// so types from other packages are opaque to it and left to pkg/state.
type pkg struct {
	fset    *token.FileSet
	name    string
	path    string
	files   []*sourceFile
	types   map[string]*typeDecl
	methods map[string]map[string]bool // receiver base type -> method names
}

const directive = "+stateify savable"

func loadPackage(cfg config) (*pkg, error) {
	entries, err := os.ReadDir(cfg.dir)
	if err != nil {
		return nil, err
	}
	p := &pkg{
		fset:    token.NewFileSet(),
		types:   map[string]*typeDecl{},
		methods: map[string]map[string]bool{},
	}
	for _, e := range entries { // ReadDir sorts by name, which keeps output stable
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		syntax, err := parser.ParseFile(p.fset, filepath.Join(cfg.dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if ast.IsGenerated(syntax) {
			continue
		}
		f := &sourceFile{name: name, syntax: syntax, imports: map[string]string{}, suffix: nameConstraint(name)}
		if f.build, err = buildConstraint(syntax); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if ignored(f.build) {
			continue
		}
		if p.name == "" {
			p.name = syntax.Name.Name
		} else if syntax.Name.Name != p.name {
			return nil, fmt.Errorf("%s: package %s, but other files are package %s", name, syntax.Name.Name, p.name)
		}
		for _, imp := range syntax.Imports {
			ipath, _ := strconv.Unquote(imp.Path.Value)
			iname := path.Base(ipath)
			if imp.Name != nil {
				iname = imp.Name.Name
			}
			f.imports[iname] = ipath
		}
		p.files = append(p.files, f)
		p.collect(f)
	}
	if p.name == "" {
		return nil, fmt.Errorf("no Go files in %s", cfg.dir)
	}
	p.path = cfg.pkgPath
	if p.path == "" {
		if p.path, err = importPath(cfg.dir); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *pkg) collect(f *sourceFile) {
	for _, decl := range f.syntax.Decls {
		switch d := decl.(type) {
		case *ast.GenDecl:
			if d.Tok != token.TYPE {
				continue
			}
			for _, spec := range d.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(d.Specs) == 1 {
					doc = d.Doc
				}
				// The first declaration wins when per-architecture files
				// declare the same name; their methods are generated per file.
				if _, seen := p.types[ts.Name.Name]; !seen || hasDirective(doc, directive) {
					p.types[ts.Name.Name] = &typeDecl{name: ts.Name.Name, spec: ts, file: f, savable: hasDirective(doc, directive)}
				}
			}
		case *ast.FuncDecl:
			if d.Recv == nil || len(d.Recv.List) != 1 {
				continue
			}
			recv := baseTypeName(d.Recv.List[0].Type)
			if p.methods[recv] == nil {
				p.methods[recv] = map[string]bool{}
			}
			p.methods[recv][d.Name.Name] = true
		}
	}
}

// savableTypes returns the annotated types declared in f, sorted by name.
func (p *pkg) savableTypes(f *sourceFile) []*ast.TypeSpec {
	var out []*ast.TypeSpec
	for _, decl := range f.syntax.Decls {
		d, ok := decl.(*ast.GenDecl)
		if !ok || d.Tok != token.TYPE {
			continue
		}
		for _, spec := range d.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil && len(d.Specs) == 1 {
				doc = d.Doc
			}
			if hasDirective(doc, directive) {
				out = append(out, ts)
			}
		}
	}
	slices.SortFunc(out, func(a, b *ast.TypeSpec) int { return strings.Compare(a.Name.Name, b.Name.Name) })
	return out
}

func hasDirective(doc *ast.CommentGroup, want string) bool {
	return slices.Contains(directives(doc), want)
}

// directives returns the "+..." lines of a comment group.
func directives(groups ...*ast.CommentGroup) []string {
	var out []string
	for _, g := range groups {
		if g == nil {
			continue
		}
		for _, c := range g.List {
			text := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
			if strings.HasPrefix(text, "+") {
				out = append(out, text)
			}
		}
	}
	return out
}

func baseTypeName(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.ParenExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.SelectorExpr:
			return t.Sel.Name
		case *ast.Ident:
			return t.Name
		default:
			return ""
		}
	}
}

func buildConstraint(f *ast.File) (string, error) {
	for _, g := range f.Comments {
		if g.Pos() >= f.Package {
			break
		}
		for _, c := range g.List {
			if constraint.IsGoBuild(c.Text) {
				expr, err := constraint.Parse(c.Text)
				if err != nil {
					return "", err
				}
				return expr.String(), nil
			}
		}
	}
	return "", nil
}

func ignored(build string) bool {
	if build == "" {
		return false
	}
	expr, err := constraint.Parse("//go:build " + build)
	if err != nil {
		return false
	}
	// A file that builds nowhere without the "ignore" tag is a script or
	// template, not part of the package.
	without := func(value bool) func(string) bool {
		return func(tag string) bool { return tag != "ignore" && value }
	}
	return strings.Contains(build, "ignore") && !expr.Eval(without(true)) && !expr.Eval(without(false))
}

// These lists decide which file name suffixes constrain a file, as the go
// command does. An unknown suffix is harmless: the file is treated as
// unconstrained, which is what the go command would do too.
var (
	knownOS   = strings.Fields("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos")
	knownArch = strings.Fields("386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm")
)

// nameConstraint returns the "_os", "_arch" or "_os_arch" suffix of a file
// name, or "".
func nameConstraint(name string) string {
	parts := strings.Split(strings.TrimSuffix(name, ".go"), "_")
	n := len(parts)
	if n >= 3 && slices.Contains(knownOS, parts[n-2]) && slices.Contains(knownArch, parts[n-1]) {
		return "_" + parts[n-2] + "_" + parts[n-1]
	}
	if n >= 2 && (slices.Contains(knownOS, parts[n-1]) || slices.Contains(knownArch, parts[n-1])) {
		return "_" + parts[n-1]
	}
	return ""
}

// importPath derives dir's import path from the enclosing go.mod.
func importPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		mod, err := modulePath(filepath.Join(d, "go.mod"))
		if err == nil {
			rel, err := filepath.Rel(d, abs)
			if err != nil {
				return "", err
			}
			if rel == "." {
				return mod, nil
			}
			return mod + "/" + filepath.ToSlash(rel), nil
		}
		if !os.IsNotExist(err) {
			return "", err
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s; pass -pkgpath", abs)
		}
	}
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s has no module line", gomod)
}
