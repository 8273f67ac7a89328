// Package nodetest finds node and the pinned npm packages of the interop
// tests (interop/package.json; .ci/run installs them with npm ci), and
// skips a test, with the command that installs them, when they are
// missing.
package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir is the repository's interop directory: the npm scripts and their
// node_modules.
var Dir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "interop")
}()

// Need returns the node binary, or skips the test when node or one of the
// npm packages pkgs is not installed.
func Need(t testing.TB, pkgs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("interop: node is not installed; skipping (CI installs it)")
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(Dir, "node_modules", p, "package.json")); err != nil {
			t.Skipf("interop: npm package %s is not installed; run `npm ci --prefix interop` (CI does)", p)
		}
	}
	return node
}
