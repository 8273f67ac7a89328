package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeLinksEveryDoc: the README's Documentation list links every
// docs/*.md, so that no document is reachable only by browsing the folder.
func TestReadmeLinksEveryDoc(t *testing.T) {
	dir := root(t)
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(b), "\n## Documentation\n")
	if !ok {
		t.Fatal("README.md has no \"## Documentation\" section")
	}
	if i := strings.Index(list, "\n## "); i >= 0 {
		list = list[:i]
	}
	docs, err := filepath.Glob(filepath.Join(dir, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md found: %v", err)
	}
	for _, d := range docs {
		link := "](docs/" + filepath.Base(d) + ")"
		if !strings.Contains(list, link) {
			t.Errorf("README.md's Documentation list does not link docs/%s: add \"- [docs/%s](docs/%s) — what it holds\"", filepath.Base(d), filepath.Base(d), filepath.Base(d))
		}
	}
}
