package config_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

// TestParseHexColor: ui.brand.primary_color is #rgb or #rrggbb, nothing
// else (no names, no rgb(), no alpha), so what reaches the brand
// stylesheet is always a plain colour.
func TestParseHexColor(t *testing.T) {
	for _, tc := range []struct {
		in  string
		rgb [3]uint8
		ok  bool
	}{
		{"#0b57d0", [3]uint8{0x0b, 0x57, 0xd0}, true},
		{"#0B57D0", [3]uint8{0x0b, 0x57, 0xd0}, true},
		{"#05d", [3]uint8{0x00, 0x55, 0xdd}, true},
		{"#fff", [3]uint8{255, 255, 255}, true},
		{"0b57d0", [3]uint8{}, false},
		{"#0b57d0ff", [3]uint8{}, false},
		{"#0b57dg", [3]uint8{}, false},
		{"blue", [3]uint8{}, false},
		{"#12;}", [3]uint8{}, false},
		{"", [3]uint8{}, false},
	} {
		rgb, ok := config.ParseHexColor(tc.in)
		if ok != tc.ok || rgb != tc.rgb {
			t.Errorf("ParseHexColor(%q) = %v, %v; want %v, %v", tc.in, rgb, ok, tc.rgb, tc.ok)
		}
	}
}

// TestCheckHTTPSURL: logos and home pages are https URLs with a host and
// nothing a CSP source list or an attribute would have to escape; no
// wildcard host, which a CSP source would take as any host.
func TestCheckHTTPSURL(t *testing.T) {
	for _, ok := range []string{"https://cdn.example/logo.png", "https://a.example:8443/x/y.svg?v=2"} {
		if err := config.CheckHTTPSURL(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"http://cdn.example/logo.png", "data:image/png;base64,AAAA", "javascript:alert(1)", "//cdn.example/l.png",
		"https://user@cdn.example/l.png", "https://cdn.example/l.png#x", "https:///l.png", "https://cdn.example/a'b.png",
		"https://cdn.example/a;b", "https://cdn.example/a b", "https://cdn.example/a\"b", "https://cdn.example/" + strings.Repeat("a", 2048),
		// A host that is a CSP wildcard would make img-src any https origin.
		"https://*/l.png", "https://*.cdn.example/l.png", "https://cdn(x)/l.png", "https://%c3%a9.example/l.png", "https://cdn.example:/l.png",
	} {
		if err := config.CheckHTTPSURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseHexColor(f *testing.F) {
	for _, s := range []string{"#0b57d0", "#05d", "#GGG", "", "#", "#12345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rgb, ok := config.ParseHexColor(s)
		if !ok {
			return
		}
		if len(s) != 4 && len(s) != 7 || strings.Trim(s[1:], "0123456789abcdefABCDEF") != "" {
			t.Fatalf("%q accepted as %v", s, rgb)
		}
	})
}

func FuzzCheckHTTPSURL(f *testing.F) {
	for _, s := range []string{"https://cdn.example/logo.png", "http://x", "data:,", "https://a@b/", "https://b/'"} {
		f.Add(s)
	}
	f.Add("https://*.b/")
	f.Fuzz(func(t *testing.T, s string) {
		if config.CheckHTTPSURL(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(s, " ;,'\"<>") || strings.Trim(u.Host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != "" {
			t.Fatalf("%q accepted", s)
		}
	})
}
