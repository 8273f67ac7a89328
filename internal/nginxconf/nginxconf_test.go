package nginxconf

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMatchesIntegrationsDoc: every directive here stands, in the same
// order, in docs/INTEGRATIONS.md's nginx section (comments and blank lines
// aside), so the configuration the tests run is the one the docs give.
func TestMatchesIntegrationsDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "INTEGRATIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	var docLines []string
	for _, block := range regexp.MustCompile("(?s)```nginx\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		docLines = append(docLines, directives(block[1])...)
	}
	for name, conf := range map[string]string{"Locations": Locations("ward_authorizer", true), "Protect": Protect} {
		i := 0
		for _, line := range directives(conf) {
			for i < len(docLines) && docLines[i] != line {
				i++
			}
			if i == len(docLines) {
				t.Errorf("%s: %q is not in docs/INTEGRATIONS.md's nginx blocks (in this order)", name, line)
				break
			}
		}
	}
}

// directives returns the lines of conf without comments and indentation.
func directives(conf string) []string {
	var out []string
	for _, l := range strings.Split(conf, "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
