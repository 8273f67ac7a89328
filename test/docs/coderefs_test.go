package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCodeReferences checks that the code a document names exists, so a
// renamed file or function cannot leave a doc pointing at nothing. It parses
// the repository's Go files with go/parser; it builds and runs nothing.
//
// The rules, precisely:
//
//  1. Paths, in every backticked span of README.md and docs/*.md: a span
//     made only of letters, digits and "_-./", containing a "/", whose first
//     segment (after an optional "./") is an entry at the repository's root
//     (`authz/token.go`, `store/sqlstore`, `revocation/`, `.ci/run`), must
//     exist. A span starting with "../" is resolved from the document's
//     directory and must exist inside the repository (a clone holds
//     nothing beside it). Spans with "..." (package patterns) and test references
//     (`test/e2e.TestAttacks/x`) are not paths. A path that does not exist
//     but whose last element is `pkg.Name` (`internal/wardtest.Build`) is
//     an identifier qualified by its package's directory: the directory
//     must exist and its package declare Name (as in rule 2). A span
//     without "/" that ends in ".go" (`consent.go`) must be the name of a
//     file in some directory of the repository.
//  2. Identifiers, in the backticked spans of the "code" column of the tables
//     of docs/SECURITY.md, docs/AUTHZ.md, docs/STORAGE.md, docs/DEVICE.md,
//     docs/DELEGATION.md, docs/REGISTRATION.md and README.md:
//     - `Name` must be declared in the repository's non-test Go files: a
//     top-level func, type, var or const, a method, an interface method or
//     a struct field. When the cell names paths (`authz/par.go`
//     (`parProof`)), Name must be declared in one of their directories;
//     docs/AUTHZ.md's cells are in authz's scope too. A cell that names no
//     path accepts a declaration anywhere. So write `store.RedeemCode`,
//     not `store` `RedeemCode`, for a name outside the cell's paths.
//     - `pkg.Name`, where pkg is the name of a package of the repository,
//     must be declared in that package (as above); `T.Name` (T not a
//     package name, or a package that lacks Name) must be a method or field
//     of a type T declared in the repository (`client.matchRedirect` is
//     authz's client type).
//     - `(*T).Method` and `(T).Method` must be a method of a type T.
//     - `Name(...)` is checked as `Name`.
//     Spans that are not Go identifiers under these shapes are prose: they
//     hold spaces, operators or "*", or are lower-case snake_case (config
//     keys and protocol parameters such as `grant_id`), or are one of the
//     JOSE/DPoP claim and header names in protocolNames (`htu`), or name a
//     file (rule 1), or contain a "/" (subtest names of the conformance
//     suite, paths: rule 1). So the code column names the repository's own
//     code: a standard-library name is written with its full selector
//     (`httputil.ReverseProxy.ErrorHandler`, two dots: prose), not bare.
func TestCodeReferences(t *testing.T) {
	dir := root(t)
	decls := loadDecls(t, dir)
	docs, _ := filepath.Glob(filepath.Join(dir, "docs", "*.md"))
	docs = append(docs, filepath.Join(dir, "README.md"))
	paths, idents := 0, 0
	for _, doc := range docs {
		body, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, doc)
		for i, line := range strings.Split(string(body), "\n") {
			for _, m := range spanRE.FindAllStringSubmatch(line, -1) {
				ok, checked := checkPath(dir, decls, m[1])
				if strings.HasPrefix(m[1], "../") && pathRE.MatchString(m[1]) {
					ok, checked = inRepo(dir, rel, m[1]), true
				}
				if checked {
					paths++
					if !ok {
						t.Errorf("%s:%d: `%s` does not exist", rel, i+1, m[1])
					}
				}
			}
		}
		if !codeTableDocs[rel] {
			continue
		}
		for _, c := range codeCells(string(body)) {
			scope := cellScope(rel, c.text)
			for _, m := range spanRE.FindAllStringSubmatch(c.text, -1) {
				ok, checked := decls.has(m[1], scope)
				if !checked {
					continue
				}
				idents++
				if !ok {
					t.Errorf("%s:%d: code `%s` is not declared in the repository", rel, c.line, m[1])
				}
			}
		}
	}
	// A guard against a parser that silently finds nothing.
	if paths < 200 || idents < 120 {
		t.Errorf("checked only %d paths and %d identifiers", paths, idents)
	}
}

// codeTableDocs are the documents whose tables have a "code" column.
var codeTableDocs = map[string]bool{
	"docs/SECURITY.md":     true,
	"docs/AUTHZ.md":        true,
	"docs/STORAGE.md":      true,
	"README.md":            true,
	"docs/DEVICE.md":       true,
	"docs/DELEGATION.md":   true,
	"docs/REGISTRATION.md": true,
}

var (
	pathRE     = regexp.MustCompile(`^[A-Za-z0-9_\-./]+$`)
	identRE    = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?(?:\(.*\))?$`)
	methodRE   = regexp.MustCompile(`^\(\*?([A-Za-z_][A-Za-z0-9_]*)\)\.([A-Za-z_][A-Za-z0-9_]*)$`)
	snakeRE    = regexp.MustCompile(`^[a-z0-9]+(?:_[a-z0-9]+)+(?:\.[a-z0-9_]+)*$`)
	testPartRE = regexp.MustCompile(`\.(?:Test|Fuzz|Benchmark|Example)`)
)

// protocolNames are claim and header names of RFC 7515, 7519 and 9449
// that the code column quotes as protocol terms, not as Go identifiers.
var protocolNames = map[string]bool{
	"alg": true, "typ": true, "kid": true, "jwk": true, "jti": true, "iat": true,
	"exp": true, "htu": true, "htm": true, "ath": true, "cnf": true, "nonce": true,
}

// inRepo resolves a span starting with "../" from the document's directory
// and reports whether it exists inside the repository.
func inRepo(dir, doc, span string) bool {
	p := path.Join(path.Dir(doc), span)
	if p == ".." || strings.HasPrefix(p, "../") {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
	return err == nil
}

// checkPath applies rule 1 to a span: whether it was a path and exists.
func checkPath(dir string, d *declSet, span string) (ok, checked bool) {
	if !pathRE.MatchString(span) || strings.Contains(span, "...") || testPartRE.MatchString(span) {
		return false, false
	}
	p := strings.TrimPrefix(span, "./")
	if !strings.Contains(p, "/") {
		if strings.HasSuffix(p, ".go") {
			return d.files[p], true
		}
		return false, false
	}
	first, _, _ := strings.Cut(p, "/")
	if first == ".." {
		return false, true
	}
	if first == "" || !d.rootEntries[first] {
		return false, false
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
		return true, true
	}
	// internal/wardtest.Build: an identifier qualified by its directory.
	pkgDir, name := path.Split(p)
	pkg, ident, ok := strings.Cut(name, ".")
	if !ok || !identRE.MatchString(ident) || strings.Contains(ident, ".") {
		return false, true
	}
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(pkgDir), pkg))
	return err == nil && fi.IsDir() && d.pkgs[pkg][ident], true
}

type cell struct {
	text string
	line int
}

// codeCells returns the "code" cells of every table whose header has a
// "code" column.
func codeCells(body string) []cell {
	var out []cell
	col := -1
	for i, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			col = -1
			continue
		}
		if isSeparator(line) {
			continue
		}
		cs := cells(line)
		if col < 0 {
			for j, c := range cs {
				if strings.EqualFold(c, "code") {
					col = j
				}
			}
			if col < 0 {
				col = len(cs) + 1000 // a table without a code column
			}
			continue
		}
		if col < len(cs) {
			out = append(out, cell{cs[col], i + 1})
		}
	}
	return out
}

// declSet is what the repository's non-test Go files declare.
type declSet struct {
	any         map[string]bool            // every declared name
	pkgs        map[string]map[string]bool // package name → its names
	members     map[string]map[string]bool // type name → its methods and fields
	dirs        map[string]map[string]bool // directory → its names
	cur         map[string]bool            // the names of the file being added
	files       map[string]bool            // base names of .go files
	rootEntries map[string]bool
}

// cellScope is the directories a code cell names (`authz/par.go` names
// authz), plus authz for docs/AUTHZ.md, whose bare file names are authz's.
func cellScope(doc, text string) []string {
	var dirs []string
	if doc == "docs/AUTHZ.md" {
		dirs = append(dirs, "authz")
	}
	for _, m := range spanRE.FindAllStringSubmatch(text, -1) {
		p := strings.TrimSuffix(m[1], "/")
		if !pathRE.MatchString(p) || !strings.Contains(p, "/") || testPartRE.MatchString(p) {
			continue
		}
		if strings.HasSuffix(p, ".go") {
			p = path.Dir(p)
		}
		dirs = append(dirs, p)
	}
	return dirs
}

// has applies rule 2 to a span: whether it was an identifier and exists.
// A bare Name must be declared in one of the scope's directories when
// the cell names any.
func (d *declSet) has(span string, scope []string) (ok, checked bool) {
	if m := methodRE.FindStringSubmatch(span); m != nil {
		return d.members[m[1]][m[2]], true
	}
	if snakeRE.MatchString(span) || protocolNames[span] || strings.HasSuffix(span, ".go") {
		return false, false
	}
	m := identRE.FindStringSubmatch(span)
	if m == nil {
		return false, false
	}
	if m[2] == "" {
		if len(scope) == 0 {
			return d.any[m[1]], true
		}
		for _, dir := range scope {
			if d.dirs[dir][m[1]] {
				return true, true
			}
		}
		return false, true
	}
	return d.pkgs[m[1]][m[2]] || d.members[m[1]][m[2]], true
}

func loadDecls(t *testing.T, dir string) *declSet {
	t.Helper()
	d := &declSet{any: map[string]bool{}, pkgs: map[string]map[string]bool{},
		members: map[string]map[string]bool{}, dirs: map[string]map[string]bool{}, files: map[string]bool{}, rootEntries: map[string]bool{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// test-artifacts/ is what the browser tests leave behind (ignored
		// by git): its paths are prose, present or not.
		d.rootEntries[e.Name()] = e.Name() != "test-artifacts"
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if n := e.Name(); path != dir && (n == "node_modules" || n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		d.files[e.Name()] = true
		if strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(path))
		d.addFile(filepath.ToSlash(rel), f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *declSet) add(pkg, name string) {
	d.any[name] = true
	d.cur[name] = true
	if d.pkgs[pkg] == nil {
		d.pkgs[pkg] = map[string]bool{}
	}
	d.pkgs[pkg][name] = true
}

// addMember records a method or field: a member is also declared in its
// package, so `store.RedeemCode` names the Store interface's method.
func (d *declSet) addMember(pkg, typ, name string) {
	d.add(pkg, name)
	if d.members[typ] == nil {
		d.members[typ] = map[string]bool{}
	}
	d.members[typ][name] = true
}

func (d *declSet) addFile(dir string, f *ast.File) {
	pkg := f.Name.Name
	if d.dirs[dir] == nil {
		d.dirs[dir] = map[string]bool{}
	}
	d.cur = d.dirs[dir]
	for _, decl := range f.Decls {
		switch decl := decl.(type) {
		case *ast.FuncDecl:
			if decl.Recv == nil {
				d.add(pkg, decl.Name.Name)
			} else if typ := recvType(decl.Recv.List[0].Type); typ != "" {
				d.addMember(pkg, typ, decl.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range decl.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						d.add(pkg, n.Name)
					}
				case *ast.TypeSpec:
					d.add(pkg, s.Name.Name)
					d.addTypeMembers(pkg, s.Name.Name, s.Type)
				}
			}
		}
	}
}

// addTypeMembers records a struct's fields and an interface's methods.
func (d *declSet) addTypeMembers(pkg, typ string, x ast.Expr) {
	var fields *ast.FieldList
	switch x := x.(type) {
	case *ast.StructType:
		fields = x.Fields
	case *ast.InterfaceType:
		fields = x.Methods
	default:
		return
	}
	for _, f := range fields.List {
		for _, n := range f.Names {
			d.addMember(pkg, typ, n.Name)
		}
		if len(f.Names) == 0 { // embedded: the type's name is the field's
			if n := recvType(f.Type); n != "" {
				d.addMember(pkg, typ, n)
			}
		}
	}
}

// recvType is the type name of a receiver or embedded field: T, *T, T[P],
// pkg.T.
func recvType(x ast.Expr) string {
	switch x := x.(type) {
	case *ast.StarExpr:
		return recvType(x.X)
	case *ast.IndexExpr:
		return recvType(x.X)
	case *ast.IndexListExpr:
		return recvType(x.X)
	case *ast.SelectorExpr:
		return x.Sel.Name
	case *ast.Ident:
		return x.Name
	}
	return ""
}
