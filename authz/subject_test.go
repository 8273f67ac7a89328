package authz

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// pairwiseLogin logs alice in to clientID (public, DPoP) and returns the
// token response and the signer its tokens are bound to.
func (h *harness) pairwiseLogin(clientID, redirect string) (*response, *dpop.Signer) {
	h.t.Helper()
	s := h.newSigner()
	return h.loginToken(clientID, redirect, "openid profile", s), s
}

// subs returns the sub of an access token, of UserInfo and of the
// token's introspection.
func (h *harness) subs(tok string, s *dpop.Signer) (at, ui, intro string) {
	h.t.Helper()
	_, cl := decodeJWT(h.t, tok)
	r := h.userinfoDPoP(http.MethodGet, h.issuer+PathUserInfo, tok, s)
	if r.status != http.StatusOK {
		h.t.Fatalf("userinfo: %d %s", r.status, r.body)
	}
	in := h.introspect(tok)
	if in.json["active"] != true {
		h.t.Fatalf("introspection: %s", in.body)
	}
	at, _ = cl["sub"].(string)
	return at, r.str("sub"), in.str("sub")
}

// TestPairwiseSubject: a pairwise client's sub (OIDC Core §8.1) is the
// same in its access tokens, UserInfo and introspection; stable across
// logins and refreshes; not the local sub; different for a client of
// another sector and the same for a client of the same sector (one whose
// sector_identifier_uri is on that host); a public client keeps the
// local sub.
func TestPairwiseSubject(t *testing.T) {
	h := newOIDCHarness(t)
	h.addUserInfoClient(store.Client{ID: "pwa", AuthMethod: oauth.AuthNone, SubjectType: store.SubjectPairwise})
	h.addUserInfoClient(store.Client{ID: "pwa2", AuthMethod: oauth.AuthNone, SubjectType: store.SubjectPairwise,
		RedirectURIs: []string{rpBRedirect, "https://rp-c.example/cb"}, SectorIdentifierURI: "https://rp.example/sector.json"})
	h.addUserInfoClient(store.Client{ID: "pwb", AuthMethod: oauth.AuthNone, SubjectType: store.SubjectPairwise, RedirectURIs: []string{rpBRedirect}})

	tr, s := h.pairwiseLogin("pwa", rpRedirect)
	at, ui, intro := h.subs(tr.str("access_token"), s)
	want := pairwiseSub(bytes.Repeat([]byte{testSaltBytes}, 32), "rp.example", "u-alice")
	if at != want || ui != want || intro != want {
		t.Fatalf("pairwise subs differ: token %q userinfo %q introspection %q, want %q", at, ui, intro, want)
	}
	if at == "u-alice" || strings.Contains(at, "alice") {
		t.Fatalf("pairwise sub %q reveals the local sub", at)
	}
	// Refresh, and a second login: the same sub.
	rr := h.refresh("pwa", tr.str("refresh_token"), s)
	if _, cl := decodeJWT(t, rr.str("access_token")); cl["sub"] != want {
		t.Fatalf("refreshed token sub %v, want %q", cl["sub"], want)
	}
	tr2, s2 := h.pairwiseLogin("pwa", rpRedirect)
	if at2, _, _ := h.subs(tr2.str("access_token"), s2); at2 != want {
		t.Fatalf("second login sub %q, want %q", at2, want)
	}
	// Same sector through sector_identifier_uri: the same sub.
	tr3, s3 := h.pairwiseLogin("pwa2", rpBRedirect)
	if at3, _, _ := h.subs(tr3.str("access_token"), s3); at3 != want {
		t.Fatalf("same-sector client sub %q, want %q", at3, want)
	}
	// Another sector: another sub.
	tr4, s4 := h.pairwiseLogin("pwb", rpBRedirect)
	if at4, ui4, _ := h.subs(tr4.str("access_token"), s4); at4 == want || at4 != ui4 || at4 == "u-alice" {
		t.Fatalf("other-sector sub %q (userinfo %q), must differ from %q and from the local sub", at4, ui4, want)
	}
	// A public client: the local sub.
	tr5, s5 := h.pairwiseLogin("rp", spaRedirect)
	if at5, ui5, _ := h.subs(tr5.str("access_token"), s5); at5 != "u-alice" || ui5 != "u-alice" {
		t.Fatalf("public client sub %q / %q, want u-alice", at5, ui5)
	}
}

// TestPairwiseRefreshIntrospection: introspecting a pairwise client's
// refresh token reports the pairwise sub, as its access tokens do.
func TestPairwiseRefreshIntrospection(t *testing.T) {
	h := newOIDCHarness(t)
	h.addUserInfoClient(store.Client{ID: "pwconf", AuthMethod: oauth.AuthSecretBasic, SenderConstraint: store.ConstraintBearer, SubjectType: store.SubjectPairwise})
	tr := h.loginToken("pwconf", rpRedirect, "openid", nil)
	_, cl := decodeJWT(t, tr.str("access_token"))
	r := h.post(PathIntrospect, url.Values{"token": {tr.str("refresh_token")}}, h.basic("pwconf")...)
	if r.json["active"] != true || r.str("sub") != cl["sub"] || r.str("sub") == "u-alice" {
		t.Fatalf("refresh token introspection sub %q, access token sub %v", r.str("sub"), cl["sub"])
	}
}

// TestCheckSubjectTypes: a pairwise client without a configured salt,
// or without a sector, stops the server at start (CheckSubjectTypes),
// and cannot get tokens.
func TestCheckSubjectTypes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.s.CheckSubjectTypes(ctx); err != nil {
		t.Fatalf("no pairwise client: %v", err)
	}
	h.addUserInfoClient(store.Client{ID: "pw", AuthMethod: oauth.AuthSecretBasic, SenderConstraint: store.ConstraintBearer, SubjectType: store.SubjectPairwise})
	if err := h.s.CheckSubjectTypes(ctx); !errors.Is(err, ErrNoPairwiseSalt) || !strings.Contains(err.Error(), "oidc.pairwise_salt_file") {
		t.Fatalf("pairwise without salt: %v", err)
	}
	code, v := h.code(h.newBrowser(), "pw", rpRedirect, url.Values{"scope": {"openid"}})
	hdr := h.basic("pw")
	r := h.post(PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {rpRedirect}}, hdr...)
	if r.status != http.StatusInternalServerError {
		t.Fatalf("token without salt: %d %s", r.status, r.body)
	}

	h2 := newHarness(t, withPairwiseSalt)
	h2.addUserInfoClient(store.Client{ID: "pw2", AuthMethod: oauth.AuthNone, SubjectType: store.SubjectPairwise,
		RedirectURIs: []string{rpRedirect, rpBRedirect}})
	if err := h2.s.CheckSubjectTypes(ctx); !errors.Is(err, ErrSector) {
		t.Fatalf("pairwise over two hosts without sector_identifier_uri: %v", err)
	}
}

// TestLoadPairwiseSalt: the salt is base64 of at least 32 bytes; the
// environment's wins over the file's.
func TestLoadPairwiseSalt(t *testing.T) {
	cfg := config.Default()
	if b, err := loadPairwiseSalt(cfg, nil); b != nil || err != nil {
		t.Fatalf("none configured: %v %v", b, err)
	}
	cfg.OIDC.PairwiseSalt = "c2hvcnQ="
	if _, err := loadPairwiseSalt(cfg, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("short salt: %v", err)
	}
	cfg.OIDC.PairwiseSalt = "not base64!"
	if _, err := loadPairwiseSalt(cfg, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("not base64: %v", err)
	}
	withPairwiseSalt(cfg)
	cfg.OIDC.PairwiseSaltFile = "/nonexistent"
	if b, err := loadPairwiseSalt(cfg, nil); err != nil || len(b) != 32 {
		t.Fatalf("env salt: %v %d", err, len(b))
	}
	cfg.OIDC.PairwiseSalt = ""
	if _, err := loadPairwiseSalt(cfg, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("missing file: %v", err)
	}
	dev := config.Dev(t.TempDir())
	if b, err := loadPairwiseSalt(dev, nil); b != nil || err != nil {
		t.Fatalf("dev mode before the file exists: %v %v", b, err)
	}
}

// TestCheckSectorIdentifier: the sector identifier document must be
// served over https with 200, be a JSON array within 64 KiB, and list
// every redirect URI of the client (OIDC Core §8.1); redirects are not
// followed; every refusal names the client and the key.
func TestCheckSectorIdentifier(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(`["https://rp.example/cb", "https://rp-b.example/cb", "https://other.example/cb"]`))
		case "/missing":
			_, _ = w.Write([]byte(`["https://rp.example/cb"]`))
		case "/object":
			_, _ = w.Write([]byte(`{"redirect_uris": ["https://rp.example/cb", "https://rp-b.example/cb"]}`))
		case "/big":
			_, _ = w.Write([]byte(`["https://rp.example/cb", "https://rp-b.example/cb", "` + strings.Repeat("a", 70<<10) + `"]`))
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &store.Client{ID: "rp", RedirectURIs: []string{rpRedirect, rpBRedirect}}
	check := func(path string) error {
		c.SectorIdentifierURI = srv.URL + path
		return CheckSectorIdentifier(ctx, srv.Client(), c)
	}
	if err := check("/ok"); err != nil {
		t.Fatalf("good document: %v", err)
	}
	for _, path := range []string{"/missing", "/object", "/big", "/redirect", "/gone"} {
		err := check(path)
		if !errors.Is(err, ErrSector) || !strings.Contains(err.Error(), `client "rp"`) || !strings.Contains(err.Error(), "sector_identifier_uri") {
			t.Errorf("%s: %v", path, err)
		}
	}
	c.SectorIdentifierURI = "http://rp.example/sector.json"
	if err := CheckSectorIdentifier(ctx, srv.Client(), c); !errors.Is(err, ErrSector) {
		t.Errorf("http document: %v", err)
	}
	cfg := config.Default()
	cfg.Clients = []config.Client{{ID: "rp", RedirectURIs: c.RedirectURIs, SectorIdentifierURI: srv.URL + "/missing"}}
	if err := CheckStaticSectors(ctx, srv.Client(), cfg); !errors.Is(err, ErrSector) || !strings.Contains(err.Error(), "clients[].sector_identifier_uri") {
		t.Errorf("static client: %v", err)
	}
}

// FuzzParseSectorDocument: the sector document parser never panics and
// accepts only bounded lists of non-empty strings.
func FuzzParseSectorDocument(f *testing.F) {
	for _, s := range []string{`["https://a.example/cb"]`, `[]`, `{"a":1}`, `["a",""]`, `["a","a"]`, `[1]`, `null`, `["\u0000"]`, `[` + strings.Repeat(`"a",`, 1000) + `"a"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		uris, err := ParseSectorDocument(b)
		if err != nil {
			return
		}
		if len(uris) > maxSectorURIs {
			t.Fatalf("%d URIs accepted", len(uris))
		}
		for _, u := range uris {
			if u == "" {
				t.Fatal("empty URI accepted")
			}
		}
	})
}

// TestPairwiseSID: in one browser session, clients of different sectors
// receive different sid values, as they receive different subs (OIDC
// Core §8: a shared sid would let them correlate the user); a public
// client the session's own. A pairwise client's ID token still names the
// session at end_session (logout without confirmation) and its logout
// token carries the sid of its ID tokens.
func TestPairwiseSID(t *testing.T) {
	h := newOIDCHarness(t)
	h.addUserInfoClient(store.Client{ID: "pwa", AuthMethod: oauth.AuthNone, SubjectType: store.SubjectPairwise})
	h.addUserInfoClient(store.Client{ID: "pwb", AuthMethod: oauth.AuthNone, SubjectType: store.SubjectPairwise, RedirectURIs: []string{rpBRedirect}})
	b := h.newBrowser()
	login := func(id, redirect string) (string, map[string]any) {
		s := h.newSigner()
		code, v := h.code(b, id, redirect, url.Values{"scope": {"openid"}})
		r := h.exchange(id, code, v, redirect, s)
		_, cl := decodeJWT(t, r.str("id_token"))
		return r.str("id_token"), cl
	}
	hintA, a := login("pwa", rpRedirect)
	_, pb := login("pwb", rpBRedirect)
	_, pub := login("rp", spaRedirect)
	sidA, _ := a["sid"].(string)
	sidB, _ := pb["sid"].(string)
	sidP, _ := pub["sid"].(string)
	if sidA == "" || sidB == "" || sidP == "" || sidA == sidB || sidA == sidP || sidB == sidP {
		t.Fatalf("sids pairwise A %q, pairwise B %q, public %q: want three different values", sidA, sidB, sidP)
	}
	ctx := context.Background()
	c, _ := h.st.GetClient(ctx, "pwa")
	lt, err := h.s.logoutToken(ctx, c, "u-alice", sidP, h.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, cl := decodeJWT(t, lt); cl["sid"] != sidA || cl["sub"] != a["sub"] {
		t.Fatalf("logout token sid %v sub %v, want the ID token's %q %v", cl["sid"], cl["sub"], sidA, a["sub"])
	}
	b.get(h.issuer + PathEndSession + "?" + url.Values{"id_token_hint": {hintA}}.Encode())
	if ss, err := h.st.ListSessions(ctx, "u-alice", h.clk.Now()); err != nil || len(ss) != 0 {
		t.Fatalf("the pairwise client's hint did not end the session: %d sessions, %v", len(ss), err)
	}
}
