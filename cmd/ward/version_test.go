package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionLine: ward version prints the module version and the VCS
// revision, its +dirty flag and time from the build info; -X wins over the
// module version; a binary without a VCS stamp says so.
func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/wardauth/ward", Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "22544e7abcdef0123456789"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-12-06T05:00:00Z"},
	}}
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		override string
		want     []string
	}{
		{"stamped", bi, "", []string{"ward v1.4.0, revision 22544e7abcde+dirty (2026-12-06T05:00:00Z), go"}},
		{"ldflags", bi, "v9.9.9", []string{"ward v9.9.9, revision 22544e7abcde+dirty"}},
		{"clean", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}, "", []string{"ward (devel), revision abc, go"}},
		{"no vcs", &debug.BuildInfo{}, "", []string{"ward (devel), revision unknown (no VCS stamp"}},
		{"no build info", nil, "", []string{"ward (devel), revision unknown"}},
	} {
		got := versionLine(tc.bi, tc.override)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
	}
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "ward ") || !strings.Contains(out, "revision") {
		t.Fatalf("ward version: exit %d %q", code, out)
	}
}

// TestTokenTimeoutSaysWhatRanOut: when the browser sign-in outlasts
// --timeout, the error names --timeout and what to do, not Go's
// "context deadline exceeded".
func TestTokenTimeoutSaysWhatRanOut(t *testing.T) {
	_, _, data := tokenServer(t)
	old := openBrowser
	openBrowser = func(string) error { return nil } // nobody signs in
	defer func() { openBrowser = old }()
	code, _, errs := runCLI(t, "token", "--dev", "--data", data, "--authorization-code", "--timeout", "1s")
	if code != 1 || !strings.Contains(errs, "--timeout ran out (1s) before the browser sign-in finished") || !strings.Contains(errs, "longer --timeout") || strings.Contains(errs, "context deadline exceeded") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
