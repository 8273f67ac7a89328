package gateway

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/wardauth/ward/config"
)

// secureResponse sets the security headers on a response (the gateway's
// own, or the upstream's in ModifyResponse).
func (g *Gateway) secureResponse(h http.Header, r *http.Request, cfg *config.Gateway, authenticated bool) {
	sh := cfg.SecurityHeaders
	sv := g.securityValues(cfg)
	// Shared, read-only values (net/http only reads them; capacity 1, so
	// an Add copies), not a new slice per header per response.
	h["X-Content-Type-Options"] = sv.nosniff
	if sh.ReferrerPolicy != "off" && h.Get("Referrer-Policy") == "" {
		h["Referrer-Policy"] = sv.referrer
	}
	if sh.HSTS != "off" && (cfg.TLS.Enabled() || strings.HasPrefix(cfg.PublicURL, "https://") || r != nil && r.TLS != nil) {
		h["Strict-Transport-Security"] = sv.hsts
	}
	if ct := h.Get("Content-Type"); sh.CSP != "off" && strings.HasPrefix(strings.ToLower(ct), "text/html") && h.Get("Content-Security-Policy") == "" {
		h["Content-Security-Policy"] = sv.csp
	}
	if authenticated {
		h["Cache-Control"] = sv.noStore
	}
}

// secValues are the security header values of one configuration.
type secValues struct {
	cfg                                   *config.Gateway
	nosniff, referrer, hsts, csp, noStore []string
}

// securityValues returns cfg's header values, made once per configuration
// generation.
func (g *Gateway) securityValues(cfg *config.Gateway) *secValues {
	if sv := g.secVals.Load(); sv != nil && sv.cfg == cfg {
		return sv
	}
	one := func(v string) []string { return []string{v}[:1:1] }
	sh := cfg.SecurityHeaders
	sv := &secValues{cfg: cfg, nosniff: one("nosniff"), referrer: one(sh.ReferrerPolicy), hsts: one(sh.HSTS), csp: one(sh.CSP), noStore: one("no-store")}
	g.secVals.Store(sv)
	return sv
}

// sanitize keeps a header value on one line.
func sanitize(v string) string {
	if !needsSanitize(v) {
		return v
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// needsSanitize reports whether sanitize would change v: a control
// character, or bytes that are not UTF-8 (which strings.Map replaces).
func needsSanitize(v string) bool {
	if !utf8.ValidString(v) {
		return true
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return true
		}
	}
	return false
}
