// Package docs checks that the security documents name only tests that
// exist, so docs/SECURITY.md, docs/THREAT_MODEL.md and the other documents
// listed in documents cannot drift from the code. It parses the test files
// with go/parser; it runs nothing.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// documents checked, with the least number of test references each must
// hold (a guard against a parser that silently finds nothing).
var documents = map[string]int{
	"docs/SECURITY.md":     80,
	"docs/THREAT_MODEL.md": 40,
	// The FAPI 2.0 checklist (fapi_checklist_test.go checks its rows).
	"docs/FAPI2.md": 40,
	// The rule → code → test tables of issue 22's flows.
	"docs/DEVICE.md":       15,
	"docs/DELEGATION.md":   15,
	"docs/REGISTRATION.md": 10,
}

// noTest are the ways a checked row may say it names no test, in bold at
// the start of its test cell: none exists, the requirement is the
// deployment's, or it awaits a feature (docs/FAPI2.md).
var noTest = []string{"**none**", "**deployment**", "**awaits**"}

// ref is a test named in a document: `TestName`, `TestName/sub_test`, or
// qualified with its package, `test/e2e.TestAttacks/proof_replayed`.
var refRE = regexp.MustCompile(`^(?:([a-z][a-z0-9_]*(?:/[a-z0-9_]+)*)\.)?((?:Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]*)(/.+)?$`)

// anyRefRE finds backticked spans in prose.
var spanRE = regexp.MustCompile("`([^`]+)`")

type ref struct {
	doc, pkg, fn, sub string
	line              int
}

// funcInfo is what one top-level function of a test file holds.
type funcInfo struct {
	strings map[string]bool // string literals, spaces as underscores (go test's subtest names)
	calls   map[string]bool // identifiers called: same-package helpers
	runs    bool            // calls a Run method (t.Run)
}

// pkgInfo is what a package's *_test.go files declare.
type pkgInfo struct {
	funcs map[string]*funcInfo
}

// subtests returns the literals reachable from fn (its body and the
// same-package functions it calls, transitively) and whether any of them
// calls t.Run: a subtest is named by a literal the test itself can pass to
// t.Run, not by one anywhere in the package.
func (p *pkgInfo) subtests(fn string) (map[string]bool, bool) {
	lits, runs := map[string]bool{}, false
	seen := map[string]bool{fn: true}
	queue := []string{fn}
	for len(queue) > 0 {
		f := p.funcs[queue[0]]
		queue = queue[1:]
		runs = runs || f.runs
		for s := range f.strings {
			lits[s] = true
		}
		for c := range f.calls {
			if _, ok := p.funcs[c]; ok && !seen[c] {
				seen[c] = true
				queue = append(queue, c)
			}
		}
	}
	return lits, runs
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", dir, err)
	}
	return dir
}

func loadPkg(t *testing.T, dir string) (*pkgInfo, bool) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if len(files) == 0 {
		return nil, false
	}
	info := &pkgInfo{funcs: map[string]*funcInfo{}}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Body == nil {
				continue
			}
			fi := &funcInfo{strings: map[string]bool{}, calls: map[string]bool{}}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if n.Kind == token.STRING {
						if s, err := strconv.Unquote(n.Value); err == nil {
							fi.strings[strings.ReplaceAll(s, " ", "_")] = true
						}
					}
				case *ast.CallExpr:
					switch fn := n.Fun.(type) {
					case *ast.Ident:
						fi.calls[fn.Name] = true
					case *ast.SelectorExpr:
						if fn.Sel.Name == "Run" {
							fi.runs = true
						}
					}
				}
				return true
			})
			info.funcs[fd.Name.Name] = fi
		}
	}
	return info, true
}

// cells splits a markdown table row.
func cells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	parts := strings.Split(line, "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func isSeparator(line string) bool {
	s := strings.TrimSpace(line)
	return strings.HasPrefix(s, "|") && strings.Trim(s, "|-: ") == ""
}

// parseDoc returns every test reference of a document. A table whose
// header has a "package" and a "test" column is a checked table: each of
// its rows names the package in the package column and one or more tests
// in the test column, or says plainly that no test exists ("**none**").
// Outside checked tables a reference must be qualified with its package.
func parseDoc(t *testing.T, name, text string) []ref {
	t.Helper()
	var refs []ref
	lines := strings.Split(text, "\n")
	pkgCol, testCol := -1, -1
	inFence := false
	for i, line := range lines {
		n := i + 1
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "|") {
			pkgCol, testCol = -1, -1
		}
		if strings.HasPrefix(trimmed, "|") && i+1 < len(lines) && isSeparator(lines[i+1]) {
			pkgCol, testCol = -1, -1
			for j, c := range cells(line) {
				switch strings.ToLower(c) {
				case "package":
					pkgCol = j
				case "test", "tests":
					testCol = j
				}
			}
			if (pkgCol < 0) != (testCol < 0) {
				t.Errorf("%s:%d: a table with a test column needs a package column (and the reverse)", name, n)
			}
			continue
		}
		if isSeparator(line) {
			continue
		}
		if pkgCol >= 0 && strings.HasPrefix(trimmed, "|") {
			c := cells(line)
			if len(c) <= pkgCol || len(c) <= testCol {
				t.Errorf("%s:%d: row has %d cells, want the package (%d) and test (%d) columns", name, n, len(c), pkgCol+1, testCol+1)
				continue
			}
			pkg := strings.Trim(c[pkgCol], "` ")
			found := 0
			for _, m := range spanRE.FindAllStringSubmatch(c[testCol], -1) {
				sm := refRE.FindStringSubmatch(m[1])
				if sm == nil {
					continue
				}
				p := sm[1]
				if p == "" {
					p = pkg
				}
				refs = append(refs, ref{doc: name, pkg: p, fn: sm[2], sub: strings.TrimPrefix(sm[3], "/"), line: n})
				found++
			}
			if found == 0 && !slices.ContainsFunc(noTest, func(p string) bool { return strings.HasPrefix(c[testCol], p) }) {
				t.Errorf("%s:%d: row names no test and does not say **none** (or **deployment**, **awaits**): %q", name, n, c[testCol])
			}
			// references in other cells of the row must be qualified
			for j, cell := range c {
				if j != testCol {
					refs = append(refs, qualified(t, name, n, cell)...)
				}
			}
			continue
		}
		refs = append(refs, qualified(t, name, n, line)...)
	}
	return refs
}

// qualified returns the package-qualified references of a piece of prose
// and reports unqualified ones, which could not be checked.
func qualified(t *testing.T, name string, n int, text string) []ref {
	t.Helper()
	var refs []ref
	for _, m := range spanRE.FindAllStringSubmatch(text, -1) {
		sm := refRE.FindStringSubmatch(m[1])
		if sm == nil {
			continue
		}
		if sm[1] == "" {
			t.Errorf("%s:%d: `%s` outside a table's test column must name its package (`pkg.%s`)", name, n, m[1], m[1])
			continue
		}
		refs = append(refs, ref{doc: name, pkg: sm[1], fn: sm[2], sub: strings.TrimPrefix(sm[3], "/"), line: n})
	}
	return refs
}

// TestSecurityDocsNameExistingTests: every test named in docs/SECURITY.md
// and docs/THREAT_MODEL.md is a top-level function of the named package's
// *_test.go files; for a subtest, that function (or a same-package helper
// it calls) calls t.Run and holds the subtest's name as a string literal
// (as go test spells it, spaces as underscores).
func TestSecurityDocsNameExistingTests(t *testing.T) {
	dir := root(t)
	pkgs := map[string]*pkgInfo{}
	for doc, min := range documents {
		b, err := os.ReadFile(filepath.Join(dir, doc))
		if err != nil {
			t.Fatal(err)
		}
		refs := parseDoc(t, doc, string(b))
		if len(refs) < min {
			t.Errorf("%s: %d test references, want at least %d (is the table format still parsed?)", doc, len(refs), min)
		}
		for _, r := range refs {
			info, ok := pkgs[r.pkg]
			if !ok {
				var has bool
				info, has = loadPkg(t, filepath.Join(dir, filepath.FromSlash(r.pkg)))
				if !has {
					info = nil
				}
				pkgs[r.pkg] = info
			}
			if info == nil {
				t.Errorf("%s:%d: package %q has no *_test.go files", r.doc, r.line, r.pkg)
				continue
			}
			if info.funcs[r.fn] == nil {
				t.Errorf("%s:%d: %s has no function %s", r.doc, r.line, r.pkg, r.fn)
				continue
			}
			if r.sub == "" {
				continue
			}
			lits, runs := info.subtests(r.fn)
			if !runs {
				t.Errorf("%s:%d: %s.%s runs no subtests (no t.Run), so it has no %q", r.doc, r.line, r.pkg, r.fn, r.sub)
				continue
			}
			if lits[r.sub] {
				continue // a name containing '/'
			}
			for _, seg := range strings.Split(r.sub, "/") {
				if !lits[seg] {
					t.Errorf("%s:%d: %s.%s: no subtest named %q (no such string literal in the test or its helpers)", r.doc, r.line, r.pkg, r.fn, seg)
				}
			}
		}
	}
}

// TestParseDoc: the parser finds what the format promises and refuses
// what it cannot check.
func TestParseDoc(t *testing.T) {
	doc := strings.Join([]string{
		"| attack | package | test |",
		"|---|---|---|",
		"| replay | `dpop` | `TestMalleatedSignatureIsReplay`, `test/e2e.TestAttacks/proof_replayed` |",
		"| smuggling | `gateway` | **none**: not tested |",
		"",
		"Prose: `resource.TestAttacks/proof_replayed` and `go test ./...`.",
		"```",
		"`TestIgnoredInCode`",
		"```",
	}, "\n")
	got := parseDoc(t, "x.md", doc)
	want := []ref{
		{"x.md", "dpop", "TestMalleatedSignatureIsReplay", "", 3},
		{"x.md", "test/e2e", "TestAttacks", "proof_replayed", 3},
		{"x.md", "resource", "TestAttacks", "proof_replayed", 6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ref %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
