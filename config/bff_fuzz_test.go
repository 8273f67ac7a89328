package config

import (
	"net/url"
	"testing"
)

// FuzzLocalPath: whatever LocalPath accepts stays on the site when a
// browser resolves it against the site's URL (no open redirect).
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/app/", "//evil.example", `/\evil`, "/%2F%2Fevil", "/a?b=//c", "https://evil", "/\t/evil", "/@evil", "/.//evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example.com/app/")
	f.Fuzz(func(t *testing.T, p string) {
		if !LocalPath(p) {
			return
		}
		u, err := base.Parse(p)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", p, err)
		}
		if u.Scheme != "https" || u.Host != "app.example.com" || u.User != nil {
			t.Fatalf("accepted %q, which leads to %s", p, u)
		}
	})
}
