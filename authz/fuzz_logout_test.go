package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/keys"
)

// FuzzLogoutToken: every logout token built verifies with go-jose under
// the allow-list, has typ logout+jwt, passes the strict JSON checks, and
// carries exactly the claims of Back-Channel Logout 1.0 §2.4 (iss, aud the
// client, iat, exp after iat, jti, the one event with an empty object, sub
// and sid as given, at least one of them) and no nonce. A request with
// neither sub nor sid is refused, never built.
func FuzzLogoutToken(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	k := &keys.SigningKey{KeyID: "k1", Algorithm: jose.ES256, Signer: priv}
	f.Add("https://ward.example", "web", "u-alice", "sid-1", int64(1_700_000_000))
	f.Add("https://ward.example/t/a", "client \"x\"", "", "s", int64(0))
	f.Add("", "", "sub\u2028é", "", int64(-1))
	f.Add("i", "c", "", "", int64(1))
	f.Fuzz(func(t *testing.T, iss, clientID, sub, sid string, unix int64) {
		now := time.Unix(unix%(1<<40), 0)
		cl, err := newLogoutClaims(iss, clientID, sub, sid, now)
		valid := utf8.ValidString(iss) && utf8.ValidString(clientID) && utf8.ValidString(sub) && utf8.ValidString(sid)
		if sub == "" && sid == "" || !valid {
			if err == nil {
				t.Fatal("built a logout token with neither sub nor sid, or a claim JSON would alter")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, err := buildLogoutToken(k, cl)
		if err != nil {
			t.Fatal(err)
		}
		if err := strictjson.CheckCompact(raw, oidcNames); err != nil {
			t.Fatalf("strict JSON: %v", err)
		}
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if typ := tok.Headers[0].ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" || tok.Headers[0].KeyID != "k1" {
			t.Fatalf("header: typ %v kid %q", typ, tok.Headers[0].KeyID)
		}
		var m map[string]json.RawMessage
		if err := tok.Claims(&priv.PublicKey, &m); err != nil {
			t.Fatalf("does not verify: %v", err)
		}
		checkLogoutClaims(t, m, iss, clientID, sub, sid, now)
	})
}

func checkLogoutClaims(t *testing.T, m map[string]json.RawMessage, iss, clientID, sub, sid string, now time.Time) {
	t.Helper()
	var got struct {
		Iss, Sub, Jti, Sid string
		Aud                string
		Iat, Exp           int64
		Events             map[string]map[string]any
	}
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"iss": true, "aud": true, "iat": true, "exp": true, "jti": true, "events": true, "sub": sub != "", "sid": sid != ""}
	for name := range m {
		if !allowed[name] {
			t.Fatalf("unexpected claim %q (nonce is prohibited, §2.4)", name)
		}
	}
	e, ok := got.Events[EventBackchannelLogout]
	switch {
	case got.Iss != iss || got.Aud != clientID || got.Sub != sub || got.Sid != sid:
		t.Fatalf("claims do not round-trip: %+v", got)
	case got.Iat != now.Unix() || got.Exp <= got.Iat || got.Jti == "":
		t.Fatalf("iat %d exp %d jti %q", got.Iat, got.Exp, got.Jti)
	case !ok || len(e) != 0 || len(got.Events) != 1:
		t.Fatalf("events %v", got.Events)
	}
}

// FuzzParseEndSession: the end-session parameters as sent (GET query or
// POST body): a repeated parameter is refused, and what is accepted
// survives re-encoding unchanged.
func FuzzParseEndSession(f *testing.F) {
	for _, s := range []string{
		"id_token_hint=a.b.c&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fout&state=x",
		"client_id=web&client_id=post", "state=&ui_locales=fr%20en&logout_hint=alice", "%zz", "a;b=c", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := parseParams(raw)
		if err != nil {
			return
		}
		req := parseEndSession(v)
		for name, got := range map[string]string{"id_token_hint": req.IDTokenHint, "logout_hint": req.LogoutHint, "client_id": req.ClientID,
			"post_logout_redirect_uri": req.PostLogoutRedirectURI, "state": req.State, "ui_locales": req.UILocales} {
			if len(v[name]) > 1 || got != v.Get(name) {
				t.Fatalf("%s: %q from %q", name, got, v[name])
			}
		}
		enc := url.Values{}
		for name, x := range map[string]string{"id_token_hint": req.IDTokenHint, "state": req.State, "client_id": req.ClientID,
			"post_logout_redirect_uri": req.PostLogoutRedirectURI, "logout_hint": req.LogoutHint, "ui_locales": req.UILocales} {
			if x != "" {
				enc.Set(name, x)
			}
		}
		v2, err := parseParams(enc.Encode())
		if err != nil || *parseEndSession(v2) != *req {
			t.Fatalf("does not round-trip: %v %+v", err, req)
		}
	})
}

// FuzzEndSessionEndpoint drives /end_session (GET, arbitrary query) on
// the real handler: no 5xx, and a redirect only ever goes to a
// registered post_logout_redirect_uri, with state at most.
func FuzzEndSessionEndpoint(f *testing.F) {
	h := logoutHarness(f)
	hint := h.idToken("web", nil, nil)
	for _, s := range []string{
		"client_id=web&post_logout_redirect_uri=" + url.QueryEscape(logoutRedirect) + "&state=s",
		"id_token_hint=" + hint + "&post_logout_redirect_uri=" + url.QueryEscape("https://app.example/out?x=1") + "&state=%26a%3Db",
		"client_id=web&post_logout_redirect_uri=" + url.QueryEscape(loopbackLogout+"/"),
		"id_token_hint=" + hint + "&client_id=bearer", "post_logout_redirect_uri=https%3A%2F%2Fevil.example", "a=1&a=2", "%zz", "",
	} {
		f.Add(s)
	}
	registered := []string{logoutRedirect, loopbackLogout, "https://app.example/out?x=1"}
	f.Fuzz(func(t *testing.T, query string) {
		if strings.ContainsAny(query, " #\x00\r\n") {
			return // not a request line a server receives
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.RawQuery = query
		req.URL.Path, req.Host = PathEndSession, strings.TrimPrefix(h.issuer, "https://")
		w := httptest.NewRecorder()
		h.s.Handler().ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%d: %s", w.Code, w.Body.Bytes())
		}
		loc := w.Header().Get("Location")
		if loc == "" {
			return
		}
		for _, r := range registered {
			if loc == r {
				return
			}
			if rest, ok := strings.CutPrefix(loc, r); ok {
				sep := "?"
				if strings.Contains(r, "?") {
					sep = "&"
				}
				if q, err := url.ParseQuery(strings.TrimPrefix(rest, sep)); err == nil && strings.HasPrefix(rest, sep) && len(q) == 1 && len(q["state"]) == 1 {
					return
				}
			}
		}
		t.Fatalf("redirected to %q", loc)
	})
}

// FuzzIDTokenHint: verifyIDTokenHint accepts only what verifies with
// go-jose under the allow-list against the server's JWKS, with typ JWT,
// iss the issuer, a sub and one client. The seeds hold a genuine hint, an
// access token and a logout token of the same key.
func FuzzIDTokenHint(f *testing.F) {
	h := logoutHarness(f)
	k, _ := h.s.km.Signer(h.clk.Now())
	at, _ := signJWT(k, "at+jwt", map[string]any{"iss": h.issuer, "sub": "u-alice", "aud": "web"})
	lt, _ := signJWT(k, TypLogoutJWT, map[string]any{"iss": h.issuer, "sub": "u-alice", "aud": "web"})
	for _, s := range []string{h.idToken("web", nil, nil), h.idToken("web", nil, map[string]any{"aud": []string{"a", "web"}, "azp": "web"}), at, lt, "a.b.c", ""} {
		f.Add(s)
	}
	set := h.s.km.JWKS(h.clk.Now())
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := h.s.verifyIDTokenHint(raw, h.clk.Now())
		if err != nil {
			return
		}
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
		if err != nil || !strings.EqualFold(tok.Headers[0].ExtraHeaders[jose.HeaderType].(string), "JWT") {
			t.Fatalf("accepted a hint that go-jose refuses or of another typ: %v", err)
		}
		ks := set.Key(tok.Headers[0].KeyID)
		var std jwt.Claims
		if len(ks) != 1 || tok.Claims(ks[0].Key, &std) != nil || std.Issuer != h.issuer || std.Subject == "" || c.clientID() == "" {
			t.Fatalf("accepted a hint that does not verify: %+v", std)
		}
	})
}
