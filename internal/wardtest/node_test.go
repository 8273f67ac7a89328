package wardtest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInteropDir(t *testing.T) {
	if _, err := os.Stat(filepath.Join(InteropDir, "package.json")); err != nil {
		t.Fatalf("InteropDir %s: %v", InteropDir, err)
	}
}
