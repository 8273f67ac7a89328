package sqlstore

import (
	"slices"
	"testing"
)

// FuzzJSONColumn checks the JSON slice columns: any stored text either
// decodes or fails with an error (never panics), and a decoded value
// survives a write and a read unchanged.
func FuzzJSONColumn(f *testing.F) {
	for _, s := range []string{`[]`, `["a","b"]`, `null`, `["\u0000",""]`, `{}`, `[1]`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := jsonVal[string](s)
		if err != nil {
			return
		}
		back, err := jsonVal[string](jsonArg(v))
		if err != nil || !slices.Equal(back, v) {
			t.Fatalf("round trip of %q: %q, %v; want %q", s, back, err, v)
		}
	})
}
