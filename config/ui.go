package config

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// UI configures what a person sees on the authorization server's pages
// (login, consent, errors, the issuer's landing page), without touching
// the templates (docs/BRANDING.md).
type UI struct {
	Brand Brand `yaml:"brand"`
}

// Brand is the operator's name, colour and logo on every page.
type Brand struct {
	// Name replaces "Ward" in the pages' header and titles; at most 64
	// characters, no control characters.
	Name string `yaml:"name"`
	// PrimaryColor is the colour of buttons and links, "#rgb" or
	// "#rrggbb". The pages pick black or white text on it, whichever
	// contrasts more, and keep the default link colour when this one is
	// too light to read on white (WCAG 2.2 §1.4.3).
	PrimaryColor string `yaml:"primary_color"`
	// LogoURL is an https image shown above every page; its origin is
	// added to the pages' Content-Security-Policy img-src.
	LogoURL string `yaml:"logo_url"`
}

// MaxBrandName bounds ui.brand.name.
const MaxBrandName = 64

func (v *validator) ui() {
	b := v.c.UI.Brand
	if len(b.Name) > MaxBrandName || strings.IndexFunc(b.Name, unicode.IsControl) >= 0 {
		v.add("ui.brand.name", ErrInvalidValue, "at most %d characters, without control characters", MaxBrandName)
	}
	if b.PrimaryColor != "" {
		if _, ok := ParseHexColor(b.PrimaryColor); !ok {
			v.add("ui.brand.primary_color", ErrInvalidValue, "%q is not a hex colour such as #0b57d0 or #05d", b.PrimaryColor)
		}
	}
	if b.LogoURL != "" {
		if err := CheckHTTPSURL(b.LogoURL); err != nil {
			v.add("ui.brand.logo_url", ErrInvalidValue, "%v", err)
		}
	}
}

// ParseHexColor reads "#rgb" or "#rrggbb" (either case) into red, green
// and blue.
func ParseHexColor(s string) ([3]uint8, bool) {
	var rgb [3]uint8
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return rgb, false
	}
	digits := s[1:]
	for i := range 3 {
		var hi, lo byte
		if len(digits) == 3 {
			hi, lo = digits[i], digits[i]
		} else {
			hi, lo = digits[2*i], digits[2*i+1]
		}
		h, ok1 := hexDigit(hi)
		l, ok2 := hexDigit(lo)
		if !ok1 || !ok2 {
			return [3]uint8{}, false
		}
		rgb[i] = h<<4 | l
	}
	return rgb, true
}

func hexDigit(c byte) (uint8, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// MaxHTTPSURL bounds a logo or home-page URL.
const MaxHTTPSURL = 2048

// CheckHTTPSURL accepts the URL of a logo or a home page a page may show
// or link: an absolute
// https URL with a host, no user info, no fragment, at most MaxHTTPSURL
// bytes and nothing a Content-Security-Policy source or an HTML attribute
// would need to escape. data: and http: are refused: the image is
// fetched by the person's browser, in the open and from an origin the
// pages' img-src names (docs/BRANDING.md).
func CheckHTTPSURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case len(s) > MaxHTTPSURL:
		return fmt.Errorf("longer than %d bytes", MaxHTTPSURL)
	case err != nil || !u.IsAbs():
		return fmt.Errorf("%q is not an absolute URL", s)
	case u.Scheme != "https":
		return fmt.Errorf("%q is not an https URL (http and data: URLs are refused)", s)
	case u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "":
		return fmt.Errorf("%q needs a host and no user info or fragment", s)
	case strings.Contains(u.Host, "*"):
		// The host becomes a CSP img-src source: * would match any host.
		return fmt.Errorf("%q has a wildcard host", s)
	case strings.ContainsAny(s, " ;,'\"<>\\\x00\t\r\n"):
		return fmt.Errorf("%q holds a space, quote, comma, semicolon or angle bracket", s)
	case !plainHost(u.Host):
		// "https://*" is a CSP wildcard: img-src would allow every origin.
		return fmt.Errorf("%q: the host must be a DNS name or an IP address (ASCII letters, digits, '.', '-'), with an optional port", s)
	}
	return nil
}

// plainHost reports whether host (URL.Host) is a DNS name, an IPv4
// address or a bracketed IPv6 address, with an optional numeric port:
// nothing a CSP host-source reads as a wildcard or cannot read at all.
func plainHost(host string) bool {
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		name, port = host[:i], host[i+1:]
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
	}
	if strings.HasPrefix(name, "[") {
		return strings.HasSuffix(name, "]") && strings.Trim(name[1:len(name)-1], "0123456789abcdefABCDEF:.") == ""
	}
	return name != "" && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == ""
}

// clientLinks checks a client's logo_uri and client_uri (RFC 7591 §2):
// https only (CheckHTTPSURL).
func (v *validator) clientLinks(cl *Client, p func(string) string) {
	if cl.LogoURI != "" {
		if err := CheckHTTPSURL(cl.LogoURI); err != nil {
			v.add(p("logo_uri"), ErrInvalidValue, "%v", err)
		}
	}
	if cl.ClientURI != "" {
		if err := CheckHTTPSURL(cl.ClientURI); err != nil {
			v.add(p("client_uri"), ErrInvalidValue, "%v", err)
		}
	}
}
