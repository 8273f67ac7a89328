package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// clauseRE is a clause of a FAPI 2.0 document: a section number.
var clauseRE = regexp.MustCompile(`^§\d+(\.\d+)+$`)

// TestFAPI2Checklist: every row of docs/FAPI2.md's checklists names its
// clause and either tests (checked by TestSecurityDocsNameExistingTests),
// **deployment** with why, **none** with why, or **awaits** with what;
// and every feature of fapi.Requirements is named by a row (**awaits**
// until it lands, its tests after), so the doc and the table stay in step.
func TestFAPI2Checklist(t *testing.T) {
	dir := root(t)
	b, err := os.ReadFile(filepath.Join(dir, "docs", "FAPI2.md"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "fapi", "profile.go"))
	if err != nil {
		t.Fatal(err)
	}
	features := regexp.MustCompile(`\{MessageSigning, "[^"]+", (\w+)\}`).FindAllStringSubmatch(string(src), -1)
	if len(features) == 0 {
		t.Fatal("no feature rows found in fapi.Requirements (is the table's shape still parsed?)")
	}
	named := map[string]bool{} // fapi features in the code column
	rows := 0
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		c := cells(line)
		if !strings.HasPrefix(strings.TrimSpace(line), "|") || isSeparator(line) || len(c) != 5 || c[0] == "clause" {
			continue
		}
		rows++
		if !clauseRE.MatchString(c[0]) {
			t.Errorf("docs/FAPI2.md:%d: clause %q is not a section number such as §5.3.2.1", i+1, c[0])
		}
		if c[1] == "" || c[2] == "" {
			t.Errorf("docs/FAPI2.md:%d: a row needs its requirement and its code", i+1)
		}
		for _, p := range noTest {
			if strings.HasPrefix(c[4], p) && strings.TrimSpace(strings.TrimPrefix(c[4], p)) == "" {
				t.Errorf("docs/FAPI2.md:%d: %s without the reason", i+1, p)
			}
		}
		for _, m := range spanRE.FindAllStringSubmatch(c[2], -1) {
			named[strings.TrimPrefix(m[1], "fapi.")] = true
		}
	}
	if rows < 30 {
		t.Errorf("docs/FAPI2.md: %d checklist rows, want at least 30", rows)
	}
	for _, f := range features {
		if !named[f[1]] {
			t.Errorf("fapi.%s is in fapi.Requirements but no row of docs/FAPI2.md names it in its code column", f[1])
		}
	}
}
