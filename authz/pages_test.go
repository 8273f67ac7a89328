package authz

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// TestPageLanguage: ui_locales wins in its own order; then the
// Accept-Language range of the highest weight the catalogue has, ties in
// the header's order, q=0 never; a region picks its language; English
// when nothing matches (RFC 9110 §12.5.4, OIDC Core §3.1.2.1).
func TestPageLanguage(t *testing.T) {
	for _, tc := range []struct {
		accept string
		ui     []string
		want   language
	}{
		{"", nil, langEN},
		{"fr", nil, langFR},
		{"fr-CA,fr;q=0.9,en;q=0.8", nil, langFR},
		{"de-AT", nil, langDE},
		{"en;q=0.5, de;q=0.9", nil, langDE},
		{"en;q=0.5, de;q=0.9, fr", nil, langFR},
		{"es, it;q=0.9, de;q=0.1", nil, langDE},
		{"de;q=0, fr;q=0.001", nil, langFR},
		{"de;q=0", nil, langEN},
		{"fr;q=0.8, de;q=0.8", nil, langFR},
		{"de;q=0.8, fr;q=0.8", nil, langDE},
		{"ja, *;q=0.5, fr;q=0.4", nil, langEN},
		{"fr;q=1.5, de;q=0.5", nil, langDE},    // q above 1: skipped
		{"fr;q=0.1234, de;q=0.2", nil, langDE}, // four decimals: skipped
		{"fr;level=1, de;q=0.2", nil, langDE},  // not a weight: skipped
		{"<script>, de;q=0.2", nil, langDE},    // not a tag: skipped
		{"FR-fr", nil, langFR},                 // case-insensitive
		{"en", []string{"de"}, langDE},         // ui_locales before Accept-Language
		{"en", []string{"ja", "fr-CA", "de"}, langFR},
		{"de", []string{"ja"}, langDE}, // none of ui_locales known: the header
		{"de", []string{"fr_FR"}, langFR},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := pageLanguage(r, tc.ui); got != tc.want {
			t.Errorf("Accept-Language %q, ui_locales %q: %s, want %s", tc.accept, tc.ui, got, tc.want)
		}
	}
	// Only the first ranges count: a French range after 32 others is not
	// read.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", strings.Repeat("ja,", maxLanguageRanges)+"fr")
	if got := pageLanguage(r, nil); got != langEN {
		t.Errorf("range past the bound read: %s", got)
	}
}

func FuzzPageLanguage(f *testing.F) {
	for _, s := range []string{"fr-CA,fr;q=0.9,en;q=0.8", "de;q=0", "*", ";q=", "fr;q=1.000", "a;q=0.", ",,,"} {
		f.Add(s, "de fr")
	}
	f.Fuzz(func(t *testing.T, accept, ui string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", accept)
		l := pageLanguage(r, strings.Fields(ui))
		if _, ok := catalogue[l]; !ok {
			t.Fatalf("%q %q: %q is not in the catalogue", accept, ui, l)
		}
		for _, rg := range acceptLanguages([]string{accept}) {
			if rg.q <= 0 || rg.q > 1000 {
				t.Fatalf("%q: weight %d", accept, rg.q)
			}
		}
	})
}

// templateKeyRE finds the catalogue keys the templates use.
var templateKeyRE = regexp.MustCompile(`\.T\.([a-z_]+)`)

// TestCatalogueComplete: every language has every key of every other
// language, none empty, with the same number of %d; every key a template
// or the code asks for exists (templates run with missingkey=error, so a
// missing key would fail the page).
func TestCatalogueComplete(t *testing.T) {
	en := catalogue[langEN]
	if len(catalogue) < 2 {
		t.Fatalf("%d languages", len(catalogue))
	}
	for l, m := range catalogue {
		for k, v := range en {
			if strings.TrimSpace(m[k]) == "" {
				t.Errorf("%s lacks %q", l, k)
			} else if strings.Count(m[k], "%d") != strings.Count(v, "%d") || strings.Count(m[k], "%") != strings.Count(v, "%") {
				t.Errorf("%s %q: %q has other verbs than %q", l, k, m[k], v)
			}
		}
		for k := range m {
			if _, ok := en[k]; !ok {
				t.Errorf("%s has %q, English does not", l, k)
			}
		}
	}
	used := map[string]bool{}
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(p)
		for _, m := range templateKeyRE.FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"err_request", "err_client", "err_expired", "err_form", "err_method", "err_busy", "err_down", "err_server"} {
		used[kind], used[kind+"_why"], used[kind+"_do"] = true, true, true
	}
	for _, k := range scopeKeys {
		used[k] = true
	}
	for _, k := range []string{"login_title", "consent_title", "error_title", "home_title"} {
		used[k] = true
	}
	for k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("the pages use %q, the catalogue lacks it", k)
		}
	}
	if len(used) < 40 {
		t.Errorf("only %d keys found in use", len(used))
	}
}

// TestErrorKinds: each error page explains its error in the person's
// words, from the code and status; a French browser reads French, with
// the technical code below.
func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   string
	}{
		{400, oauth.InvalidRequest, "err_request"},
		{400, oauth.InvalidClient, "err_client"},
		{400, oauth.InvalidRequestURI, "err_expired"},
		{403, oauth.InvalidRequest, "err_form"},
		{405, oauth.InvalidRequest, "err_method"},
		{429, oauth.RateLimited, "err_busy"},
		{503, oauth.TemporarilyUnavailable, "err_down"},
		{500, oauth.ServerError, "err_server"},
	} {
		if got := errorKind(tc.status, tc.code); got != tc.want {
			t.Errorf("%d %s: %s, want %s", tc.status, tc.code, got, tc.want)
		}
	}
	h := newHarness(t)
	req, _ := http.NewRequest("GET", h.issuer+PathAuthorize+"?client_id=nobody", nil)
	req.Header.Set("Accept-Language", "fr-FR,fr;q=0.9")
	r := h.do(h.srv.Client(), req)
	for _, want := range []string{`<html lang="fr">`, "Application inconnue", "Que faire", "Détails techniques", `<code>invalid_client</code>`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("French error page lacks %q:\n%s", want, r.body)
		}
	}
}

// TestCancelLink: the login page of a validated request links back to
// the client's redirect URI with error=access_denied, state and iss (RFC
// 6749 §4.1.2.1, RFC 9207 §2); an error page, shown when the client or
// its redirect URI could not be validated, links nowhere back.
func TestCancelLink(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const native = "com.example.app:/cb"
	if _, err := CreateClient(ctx, h.st, &store.Client{ID: "native", AuthMethod: oauth.AuthNone, RedirectURIs: []string{native}, Scopes: []string{"read"}}, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	v, _ := pkce.NewVerifier()
	for _, tc := range []struct{ client, redirect string }{{"web", webRedirect}, {"native", native}} {
		p := authParams(tc.client, tc.redirect, pkce.Challenge(v))
		p.Set("scope", "read")
		page := h.newBrowser().get(h.issuer + PathAuthorize + "?" + p.Encode())
		m := regexp.MustCompile(`<a id="cancel" href="([^"]+)"`).FindSubmatch(page.body)
		if m == nil {
			t.Fatalf("%s: no cancel link:\n%s", tc.client, page.body)
		}
		u, err := url.Parse(htmlUnescape(string(m[1])))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if base := strings.SplitN(u.String(), "?", 2)[0]; base != tc.redirect || q.Get("error") != oauth.AccessDenied ||
			q.Get("state") != "st-"+tc.client || q.Get("iss") != h.issuer {
			t.Errorf("%s: cancel link %s", tc.client, u)
		}
	}
	for name, p := range map[string]url.Values{
		"unregistered redirect": authParams("web", "https://evil.example/cb", pkce.Challenge(v)),
		"unknown client":        authParams("nobody", webRedirect, pkce.Challenge(v)),
	} {
		r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + p.Encode())
		if r.status != http.StatusBadRequest || bytes.Contains(r.body, []byte("<a ")) || bytes.Contains(r.body, []byte("access_denied")) {
			t.Errorf("%s: %d, the error page links somewhere:\n%s", name, r.status, r.body)
		}
	}
	// A scheme html/template does not trust and config would refuse is
	// never made a link.
	if got := h.s.cancelURL(context.Background(), &authRequest{RedirectURI: "javascript:alert(1)//"}); got != "" {
		t.Errorf("javascript: cancel link %q", got)
	}
}

// TestClientLogo: the login and consent pages show the client's https
// logo and link its name to its home page, and img-src names the logo's
// origin and nothing more; a non-https logo (one that bypassed
// validation into the store) is not shown and widens nothing. Creating a
// client with an http logo is refused. The consent page says who is
// signed in.
func TestClientLogo(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c := &store.Client{ID: "logo", Name: "Logo App", AuthMethod: oauth.AuthSecretBasic, RedirectURIs: []string{webRedirect}, Scopes: []string{"read"},
		LogoURI: "https://cdn.example/logo.png", ClientURI: "https://app.example/"}
	if _, err := CreateClient(ctx, h.st, c, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	bad := *c
	bad.ID, bad.LogoURI = "plain", "http://cdn.example/logo.png"
	if _, err := CreateClient(ctx, h.st, &bad, h.clk.Now()); err == nil {
		t.Error("an http logo was accepted")
	}
	if err := h.st.UpsertClient(ctx, &bad); err != nil { // past validation
		t.Fatal(err)
	}
	v, _ := pkce.NewVerifier()
	p := authParams("logo", webRedirect, pkce.Challenge(v))
	p.Set("scope", "read")
	b := h.newBrowser()
	login := b.get(h.issuer + PathAuthorize + "?" + p.Encode())
	consent := b.login(login, "alice", testPassword)
	for name, r := range map[string]*response{"login": login, "consent": consent} {
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "img-src 'self' https://cdn.example;") {
			t.Errorf("%s: CSP %q", name, csp)
		}
		for _, want := range []string{`<img class="client-logo" src="https://cdn.example/logo.png"`, `<a href="https://app.example/" target="_blank" rel="noopener noreferrer">Logo App</a>`} {
			if !bytes.Contains(r.body, []byte(want)) {
				t.Errorf("%s page lacks %s:\n%s", name, want, r.body)
			}
		}
	}
	if !bytes.Contains(consent.body, []byte(`You are signed in as <strong>alice</strong>`)) {
		t.Errorf("the consent page does not say who consents:\n%s", consent.body)
	}
	wild := bad
	wild.ID, wild.LogoURI = "wild", "https://*/logo.png" // img-src https://* would allow every https origin
	if _, err := CreateClient(ctx, h.st, &wild, h.clk.Now()); err == nil {
		t.Error("a wildcard logo host was accepted")
	}
	if err := h.st.UpsertClient(ctx, &wild); err != nil { // past validation
		t.Fatal(err)
	}
	for _, id := range []string{"plain", "wild"} {
		p.Set("client_id", id)
		r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + p.Encode())
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self';") || bytes.Contains(r.body, []byte("<img")) {
			t.Errorf("%s logo: CSP %q, body:\n%s", id, csp, r.body)
		}
	}
}

// TestBrand: ui.brand names the pages, colours them through the
// stylesheet (never inline) with readable text, and its logo's origin
// joins img-src.
func TestBrand(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.UI.Brand = config.Brand{Name: "Acme <ID>", PrimaryColor: "#FFD700", LogoURL: "https://brand.example/acme.svg"}
	})
	r := h.newBrowser().get(h.issuer + "/")
	if r.status != http.StatusOK {
		t.Fatalf("landing page: %d", r.status)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"img-src 'self' https://brand.example;", "style-src 'self';", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, want := range []string{`<title>Sign-in service · Acme &lt;ID&gt;</title>`, `<img src="https://brand.example/acme.svg" alt=""`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("page lacks %s:\n%s", want, r.body)
		}
	}
	if bytes.Contains(r.body, []byte("style=")) || bytes.Contains(r.body, []byte("<style")) || bytes.Contains(r.body, []byte("<script")) {
		t.Error("inline style or script")
	}
	css := h.newBrowser().get(h.issuer + PathStatic + "ward.css")
	// Gold is light: dark text on it, and links keep the default blue.
	if !bytes.HasSuffix(css.body, []byte("\n:root{--primary:#ffd700;--on-primary:#111111}\n")) {
		t.Errorf("stylesheet ends %q", css.body[max(0, len(css.body)-80):])
	}
	for _, tc := range []struct{ colour, want string }{
		{"#0b57d0", "\n:root{--primary:#0b57d0;--on-primary:#ffffff;--link:#0b57d0}\n"},
		{"#000", "\n:root{--primary:#000000;--on-primary:#ffffff;--link:#000000}\n"},
		{"#fff", "\n:root{--primary:#ffffff;--on-primary:#111111}\n"},
		{"red;}body{display:none", ""},
		{"", ""},
	} {
		if got := string(brandCSS(tc.colour)); got != tc.want {
			t.Errorf("brandCSS(%q) = %q, want %q", tc.colour, got, tc.want)
		}
	}
}

// TestLandingPage: the issuer's root is a page for a person who opens it,
// linking the metadata, the JWKS and the docs; any other unknown path is
// still a 404.
func TestLandingPage(t *testing.T) {
	h := newHarness(t)
	r := h.newBrowser().get(h.issuer + "/")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %v", r.status, r.header)
	}
	for _, want := range []string{`<html lang="en">`, `href="` + h.issuer + PathMetadata + `"`, `href="` + h.issuer + PathJWKS + `"`, `href="` + DocsURL + `"`, "<code>" + h.issuer + "</code>"} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("landing page lacks %s:\n%s", want, r.body)
		}
	}
	if r := h.newBrowser().get(h.issuer + "/nothing-here"); r.status != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d", r.status)
	}
}
