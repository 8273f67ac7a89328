package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestLogKeys checks that every slog call in the repository spells a
// concept's key the way the table "Log keys" in docs/ARCHITECTURE.md says:
// for each row, the keys in the "not" column must appear in no log call.
//
// A log call is a call of a method or function named Debug, Info, Warn,
// Error (or their …Context forms), Log, LogAttrs or With whose receiver
// expression ends in a name containing "log" or "Log" (s.log, logger,
// slog, cfg.Logger) or is the name l (a logger in a short closure). Its keys are the string literals at key positions of
// the alternating key/value arguments after the message, and the first
// argument of slog.String, slog.Int, slog.Any and the other slog.Attr
// constructors anywhere among them. Test files are included: a test's log
// line reads like the server's.
func TestLogKeys(t *testing.T) {
	dir := root(t)
	wrong := logKeyTable(t, dir)
	calls, used := 0, map[string]bool{}
	for _, k := range collectLogKeys(t, dir) {
		calls++
		rel, _ := filepath.Rel(dir, k.pos.Filename)
		rel = filepath.ToSlash(rel)
		if pendingLogKeys[rel+" "+k.key] {
			used[rel+" "+k.key] = true
			continue
		}
		if want, bad := wrong[k.key]; bad {
			t.Errorf("%s: log key %q: docs/ARCHITECTURE.md spells it %q", k.pos, k.key, want)
		}
	}
	for p := range pendingLogKeys {
		if !used[p] {
			t.Errorf("pendingLogKeys: %q no longer occurs: remove it", p)
		}
	}
	if calls < 100 {
		t.Errorf("found only %d log keys: is the collector broken?", calls)
	}
}

// pendingLogKeys are keys ("file key") left as they are for now, for
// example while another change rewrites the file (none today). The test
// fails once an entry no longer occurs, so the list cannot outlive its
// reason.
var pendingLogKeys = map[string]bool{}

// TestLogKeySurvey prints every log key with its count (go test -run
// LogKeySurvey -v ./test/docs): the input for choosing a row of the table.
func TestLogKeySurvey(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("run with -v")
	}
	count := map[string]int{}
	for _, k := range collectLogKeys(t, root(t)) {
		count[k.key]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-24s %d", k, count[k])
	}
}

// logKeyTable reads the "Log keys" table of docs/ARCHITECTURE.md (columns
// concept | key | not) and returns each refused spelling with the chosen one.
func logKeyTable(t *testing.T, dir string) map[string]string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := map[string]string{}
	in, rows := false, 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(line) == "## Log keys"
			continue
		}
		if !in || !strings.HasPrefix(line, "|") || isSeparator(line) {
			continue
		}
		cs := cells(line)
		if len(cs) != 3 || cs[0] == "concept" {
			continue
		}
		want := spanRE.FindStringSubmatch(cs[1])
		if want == nil {
			t.Fatalf("docs/ARCHITECTURE.md: log key row without a backticked key: %s", line)
		}
		rows++
		for _, m := range spanRE.FindAllStringSubmatch(cs[2], -1) {
			wrong[m[1]] = want[1]
		}
	}
	if rows < 5 {
		t.Fatalf("docs/ARCHITECTURE.md: the Log keys table has %d rows", rows)
	}
	return wrong
}

type logKey struct {
	key string
	pos token.Position
}

var logMethods = map[string]bool{
	"Debug": true, "Info": true, "Warn": true, "Error": true,
	"DebugContext": true, "InfoContext": true, "WarnContext": true, "ErrorContext": true,
	"Log": true, "LogAttrs": true, "With": true,
}

var loggerRE = regexp.MustCompile(`(?i)log`)

func isLogger(x ast.Expr) bool {
	if id, ok := x.(*ast.Ident); ok && id.Name == "l" {
		return true
	}
	return loggerRE.MatchString(lastName(x))
}

// collectLogKeys returns the keys of every log call in the repository's Go
// files.
func collectLogKeys(t *testing.T, dir string) []logKey {
	t.Helper()
	var out []logKey
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if n := e.Name(); p != dir && (n == "node_modules" || n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				for _, k := range callKeys(call) {
					out = append(out, logKey{k.Value, fset.Position(k.Pos())})
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// callKeys returns the key literals of a log call (none for another call).
func callKeys(call *ast.CallExpr) []*ast.BasicLit {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || !logMethods[sel.Sel.Name] || !isLogger(sel.X) {
		return nil
	}
	args := call.Args
	switch sel.Sel.Name {
	case "With":
	case "Log", "LogAttrs": // ctx, level, msg
		if len(args) < 3 {
			return nil
		}
		args = args[3:]
	default:
		if strings.HasSuffix(sel.Sel.Name, "Context") && len(args) > 0 {
			args = args[1:]
		}
		if len(args) == 0 {
			return nil
		}
		args = args[1:] // the message
	}
	var keys []*ast.BasicLit
	for i := 0; i < len(args); i++ {
		if lit := attrKey(args[i]); lit != nil {
			keys = append(keys, lit)
			continue
		}
		if lit, ok := args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			keys = append(keys, unquoted(lit))
			i++ // its value
		}
	}
	return keys
}

// attrKey is the key of slog.String("k", v) and the other constructors.
func attrKey(x ast.Expr) *ast.BasicLit {
	call, ok := x.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return nil
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || lastName(sel.X) != "slog" {
		return nil
	}
	if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
		return unquoted(lit)
	}
	return nil
}

func unquoted(lit *ast.BasicLit) *ast.BasicLit {
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		s = lit.Value
	}
	return &ast.BasicLit{ValuePos: lit.ValuePos, Kind: lit.Kind, Value: s}
}

// lastName is the rightmost name of a receiver: log, s.log, s.cfg.Logger,
// s.logger(). Anything else is "".
func lastName(x ast.Expr) string {
	switch x := x.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	case *ast.CallExpr:
		return lastName(x.Fun)
	}
	return ""
}
