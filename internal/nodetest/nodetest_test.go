package nodetest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirIsTheInteropDirectory(t *testing.T) {
	if _, err := os.Stat(filepath.Join(Dir, "package.json")); err != nil {
		t.Fatalf("Dir %s: %v", Dir, err)
	}
}
