package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// withRegistration turns dynamic client registration on (open: without
// an initial access token for public clients).
func withRegistration(open bool) harnessOpt {
	return func(c *config.Config) {
		c.Registration.Enabled = true
		c.Registration.Open = open
		c.Registration.Scopes = []string{"openid", "read"}
		c.Registration.Audiences = []string{testAPI}
		c.Registration.GrantTypes = []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}
		// Out of the way of the tests; TestRegisterRateLimit checks it.
		c.RateLimits.Register.IP = config.Rate{Rate: 100000, Period: time.Hour, Burst: 100000}
	}
}

// regRequest sends a registration or configuration request with a JSON
// body (none when empty) and an optional bearer token.
func (h *harness) regRequest(method, path, body, token string) *response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.issuer+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.do(h.srv.Client(), req)
}

func (h *harness) register(body, token string) *response {
	h.t.Helper()
	return h.regRequest(http.MethodPost, PathRegister, body, token)
}

// initialToken stores an initial access token as `ward client token` does.
func (h *harness) initialToken(ttl time.Duration, singleUse bool) string {
	h.t.Helper()
	tok, t := NewInitialAccessToken(h.clk.Now(), ttl, singleUse)
	if err := h.st.PutInitialAccessToken(context.Background(), t); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

const publicReg = `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none",
	"grant_types":["authorization_code","refresh_token"],"client_name":"MCP Inspector","scope":"read",
	"software_id":"ignored-unknown-member","dpop_bound_access_tokens":false}`

// TestRegisterOpenPublicClient: open registration of a public client
// answers RFC 7591 §3.2.1 (201, client_id_issued_at, no secret, the
// registration access token and URI, dpop_bound_access_tokens forced
// true, unknown members ignored), stores a dynamic DPoP-bound client with
// the configured audiences and an expiry, emits client_changed, and the
// client then gets a DPoP-bound token with PKCE.
func TestRegisterOpenPublicClient(t *testing.T) {
	h := newHarness(t, withRegistration(true))
	events := withEvents(h)
	r := h.register(publicReg, "")
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	id := r.str("client_id")
	if !strings.HasPrefix(id, registrationIDPrefix) || r.str("registration_access_token") == "" ||
		r.str("registration_client_uri") != h.issuer+PathRegister+"/"+id || r.json["client_id_issued_at"] == nil ||
		r.json["client_secret"] != nil || r.json["dpop_bound_access_tokens"] != true || r.json["software_id"] != nil ||
		r.str("scope") != "read" || r.str("token_endpoint_auth_method") != "none" ||
		r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("registration response: %s", r.body)
	}
	c, err := h.st.GetClient(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Dynamic || c.Static || c.SenderConstraint != store.ConstraintDPoP || c.Audiences[0] != testAPI ||
		!c.ExpiresAt.Equal(h.clk.Now().Add(h.cfg.Registration.UnusedTTL)) || strings.Contains(string(c.RegistrationTokenHash), r.str("registration_access_token")) {
		t.Fatalf("stored client: %+v", c)
	}
	ev := onlyEvent(t, events(), secevent.ClientChanged)
	if ev.ClientID != id || ev.Reason != "registered" {
		t.Errorf("event %+v", ev)
	}
	s := h.newSigner()
	code, v := h.code(h.newBrowser(), id, spaRedirect, url.Values{"scope": {"read"}})
	wantToken(t, h.exchange(id, code, v, spaRedirect, s))
	// Without a DPoP proof the registered client gets nothing.
	code, v = h.code(h.newBrowser(), id, spaRedirect, url.Values{"scope": {"read"}})
	if r := h.exchange(id, code, v, spaRedirect, nil); r.status == http.StatusOK {
		t.Fatalf("a registered client got a token without DPoP: %s", r.body)
	}
}

// TestRegisterDisabledByDefault: no endpoint, nothing advertised.
func TestRegisterDisabledByDefault(t *testing.T) {
	h := newHarness(t)
	if r := h.register(publicReg, ""); r.status != http.StatusNotFound {
		t.Fatalf("register with registration off: %d", r.status)
	}
	if md := h.s.Metadata(); md.RegistrationEndpoint != "" {
		t.Fatalf("registration_endpoint %q advertised while off", md.RegistrationEndpoint)
	}
	h2 := newHarness(t, withRegistration(false))
	if md := h2.s.Metadata(); md.RegistrationEndpoint != h2.issuer+PathRegister {
		t.Fatalf("registration_endpoint = %q", md.RegistrationEndpoint)
	}
}

// regCase is a registration refused with an exact RFC 7591 §3.2.2 code.
type regCase struct {
	name, body string
	code       string
}

func redirectBody(uris ...string) string {
	b, _ := json.Marshal(map[string]any{"redirect_uris": uris, "token_endpoint_auth_method": "none"})
	return string(b)
}

// TestRegisterRefusesRedirectURIs: every redirect URI shape Ward does not
// accept for a registered client is refused with invalid_redirect_uri.
func TestRegisterRefusesRedirectURIs(t *testing.T) {
	h := newHarness(t, withRegistration(true))
	cases := []struct{ name, uri string }{
		{"http non-loopback", "http://app.example/cb"},
		{"http private address", "http://10.0.0.1/cb"},
		{"localhost name", "http://localhost:8080/cb"},
		{"fragment", "https://app.example/cb#x"},
		{"empty fragment", "https://app.example/cb#"},
		{"wildcard host", "https://*.example/cb"},
		{"wildcard path", "https://app.example/*"},
		{"relative", "/cb"},
		{"private-use scheme", "com.example.app:/cb"},
		{"javascript", "javascript:alert(1)"},
		{"data", "data:text/html,x"},
		{"user info", "https://user@app.example/cb"},
		{"https loopback", "https://127.0.0.1/cb"},
		{"https private", "https://192.168.1.1/cb"},
		{"no host", "https:///cb"},
		{"control character", "https://app.example/c\nb"},
		{"too long", "https://app.example/" + strings.Repeat("a", maxRedirectURIBytes)},
		{"loopback lookalike host", "http://127.0.0.1.evil.example/cb"},
		// Hosts that browsers read as IPv4 addresses (WHATWG URL "ends
		// in a number"), though netip does not: loopback and private.
		{"https loopback shorthand", "https://127.1/cb"},
		{"https loopback decimal", "https://2130706433/cb"},
		{"https loopback hex", "https://0x7f.0.0.1/cb"},
		{"https loopback trailing dot", "https://127.0.0.1./cb"},
		{"https private octal", "https://012.0.0.1:8443/cb"},
		{"https hex last label (not a host to browsers)", "https://app.0xa/cb"},
		{"https fullwidth loopback", "https://１２７.０.０.１/cb"},
		{"https ideographic full stops", "https://127。0。0。1/cb"},
		{"https unicode host (not an A-label)", "https://app.exämple/cb"},
		{"https v4-mapped loopback", "https://[::ffff:127.0.0.1]/cb"},
		{"https v4-mapped private hex", "https://[::ffff:a00:1]/cb"},
		{"empty", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, h.register(redirectBody(tc.uri), ""), http.StatusBadRequest, oauth.InvalidRedirectURI)
		})
	}
	t.Run("none", func(t *testing.T) {
		wantError(t, h.register(`{"token_endpoint_auth_method":"none"}`, ""), http.StatusBadRequest, oauth.InvalidRedirectURI)
	})
	t.Run("too many", func(t *testing.T) {
		var uris []string
		for i := range 6 {
			uris = append(uris, fmt.Sprintf("http://127.0.0.1:%d/cb", 8000+i))
		}
		wantError(t, h.register(redirectBody(uris...), ""), http.StatusBadRequest, oauth.InvalidRedirectURI)
	})
	for _, ok := range []string{"http://127.0.0.1/cb", "http://[::1]:8080/cb", "https://app.example/cb?x=1", "https://8.8.8.8/cb", "https://app.example1/cb", "https://1app.example/cb", "https://app.xn--exmple-cua/cb"} {
		if r := h.register(redirectBody(ok), ""); r.status != http.StatusCreated {
			t.Errorf("%s refused: %d %s", ok, r.status, r.body)
		}
	}
}

// TestRegisterRefusesMetadata: disallowed grant types and authentication
// methods, jwks_uri (never fetched: no SSRF), hostile or oversized
// metadata, software statements and malformed JSON, each with its code.
func TestRegisterRefusesMetadata(t *testing.T) {
	h := newHarness(t, withRegistration(true))
	const ru = `"redirect_uris":["http://127.0.0.1/cb"]`
	cases := []regCase{
		{"client_secret_basic", `{` + ru + `,"token_endpoint_auth_method":"client_secret_basic"}`, oauth.InvalidClientMetadata},
		{"client_secret_post", `{` + ru + `,"token_endpoint_auth_method":"client_secret_post"}`, oauth.InvalidClientMetadata},
		{"tls_client_auth", `{` + ru + `,"token_endpoint_auth_method":"tls_client_auth"}`, oauth.InvalidClientMetadata},
		{"private_key_jwt when open", `{` + ru + `,"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[]}}`, oauth.InvalidClientMetadata},
		{"jwks_uri private address", `{` + ru + `,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"http://169.254.169.254/keys"}`, oauth.InvalidClientMetadata},
		{"jwks_uri on public client", `{` + ru + `,"jwks_uri":"https://10.0.0.1/jwks"}`, oauth.InvalidClientMetadata},
		{"implicit", `{` + ru + `,"grant_types":["implicit"]}`, oauth.InvalidClientMetadata},
		{"password", `{` + ru + `,"grant_types":["password"]}`, oauth.InvalidClientMetadata},
		{"client_credentials when open", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, oauth.InvalidClientMetadata},
		{"token response type", `{` + ru + `,"response_types":["token"]}`, oauth.InvalidClientMetadata},
		{"scope not allowed", `{` + ru + `,"scope":"read admin"}`, oauth.InvalidClientMetadata},
		{"client_name control", `{` + ru + `,"client_name":"App\u0007"}`, oauth.InvalidClientMetadata},
		{"client_name bidi override", `{` + ru + `,"client_name":"Good \u202eppA"}`, oauth.InvalidClientMetadata},
		{"client_name too long", `{` + ru + `,"client_name":"` + strings.Repeat("x", maxClientNameRunes+1) + `"}`, oauth.InvalidClientMetadata},
		{"logo_uri http", `{` + ru + `,"logo_uri":"http://cdn.example/logo.png"}`, oauth.InvalidClientMetadata},
		{"logo_uri data", `{` + ru + `,"logo_uri":"data:image/png;base64,AAAA"}`, oauth.InvalidClientMetadata},
		{"client_uri javascript", `{` + ru + `,"client_uri":"javascript:alert(1)"}`, oauth.InvalidClientMetadata},
		{"software statement", `{` + ru + `,"software_statement":"eyJhbGciOiJub25lIn0.e30."}`, oauth.UnapprovedSoftwareStatement},
		{"duplicate member", `{` + ru + `,` + ru + `}`, oauth.InvalidClientMetadata},
		{"case variant member", `{` + ru + `,"Redirect_URIs":["https://evil.example/cb"]}`, oauth.InvalidClientMetadata},
		{"wrong type", `{"redirect_uris":"http://127.0.0.1/cb"}`, oauth.InvalidClientMetadata},
		{"not an object", `[]`, oauth.InvalidClientMetadata},
		{"trailing data", `{` + ru + `} {}`, oauth.InvalidClientMetadata},
		{"oversized", `{` + ru + `,"x":"` + strings.Repeat("a", maxRegistrationBytes) + `"}`, oauth.InvalidClientMetadata},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, h.register(tc.body, ""), http.StatusBadRequest, tc.code)
		})
	}
	t.Run("form body", func(t *testing.T) {
		r := h.post(PathRegister, url.Values{"redirect_uris": {"http://127.0.0.1/cb"}})
		wantError(t, r, http.StatusBadRequest, oauth.InvalidClientMetadata)
	})
	list, _ := h.st.ListClients(context.Background())
	for _, c := range list {
		if c.Dynamic {
			t.Fatalf("a refused registration stored client %q", c.ID)
		}
	}
}

// TestRegisterInitialAccessToken: without open registration a request
// needs a live initial access token: missing, unknown, expired and
// spent single-use tokens are refused with 401 invalid_token; with a
// token, private_key_jwt and client_credentials clients may register.
func TestRegisterInitialAccessToken(t *testing.T) {
	h := newHarness(t, withRegistration(false))
	body := redirectBody("https://app.example/cb")
	wantChallenge := func(r *response) {
		t.Helper()
		wantError(t, r, http.StatusUnauthorized, oauth.InvalidToken)
		if !strings.Contains(r.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
	}
	wantChallenge(h.register(body, ""))
	wantChallenge(h.register(body, "not-a-token"))
	expired := h.initialToken(time.Minute, false)
	h.clk.Advance(2 * time.Minute)
	wantChallenge(h.register(body, expired))

	once := h.initialToken(time.Hour, true)
	if r := h.register(body, once); r.status != http.StatusCreated {
		t.Fatalf("single-use token: %d %s", r.status, r.body)
	}
	wantChallenge(h.register(body, once))

	multi := h.initialToken(time.Hour, false)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: h.jwtKey.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	svc := fmt.Sprintf(`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":%s}`, set)
	r := h.register(svc, multi)
	if r.status != http.StatusCreated || r.str("token_endpoint_auth_method") != "private_key_jwt" {
		t.Fatalf("private_key_jwt with a token: %d %s", r.status, r.body)
	}
	// The registered service authenticates with its key and gets a
	// DPoP-bound token for the configured audience.
	id, now := r.str("client_id"), h.clk.Now()
	a := h.assertion(h.jwtKey, jose.ES256, "k1", jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{h.issuer},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: randomToken(8)})
	tr := h.post(PathToken, url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType},
		"client_assertion": {a}}, "DPoP", h.proof(h.newSigner()))
	wantToken(t, tr)
	if _, cl := decodeJWT(t, tr.str("access_token")); cl["aud"] != testAPI || cl["cnf"] == nil {
		t.Fatalf("token claims %v", cl)
	}
	for name, b := range map[string]string{
		"private key in jwks": `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRjPX4FTQvqHxPTbMuHHszaaz8g1eYV4LO_RIgA","d":"jpsQnnGQmL-YBIffH1136cLyt5vlaxEPtK9zTLn5DjE"}]}}`,
		"symmetric key":       `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}}`,
		"no keys":             `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt"}`,
		"cc for public":       `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`,
	} {
		if r := h.register(b, multi); r.status != http.StatusBadRequest || r.str("error") != oauth.InvalidClientMetadata {
			t.Errorf("%s: %d %s, want 400 invalid_client_metadata", name, r.status, r.body)
		}
	}
}

// TestRegistrationManagement: RFC 7592 read, update and delete need the
// client's own registration access token (compared in constant time):
// none, a wrong one, another client's, and one rotated away by an update
// get the same 401 invalid_token, as does a static client's URI; an
// update follows the registration policy and RFC 7592 §2.2; a deleted
// client can no longer refresh.
func TestRegistrationManagement(t *testing.T) {
	h := newHarness(t, withRegistration(true))
	a, b := h.register(publicReg, ""), h.register(publicReg, "")
	id, rat := a.str("client_id"), a.str("registration_access_token")
	uri := PathRegister + "/" + id
	for name, tok := range map[string]string{"none": "", "wrong": rat + "x", "other client's": b.str("registration_access_token")} {
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			body := ""
			if m == http.MethodPut {
				body = `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1/cb"]}`
			}
			if r := h.regRequest(m, uri, body, tok); r.status != http.StatusUnauthorized || r.str("error") != oauth.InvalidToken {
				t.Errorf("%s with %s token: %d %s", m, name, r.status, r.body)
			}
		}
	}
	if r := h.regRequest(http.MethodGet, PathRegister+"/web", "", rat); r.status != http.StatusUnauthorized {
		t.Errorf("static client read: %d", r.status)
	}
	r := h.regRequest(http.MethodGet, uri, "", rat)
	if r.status != http.StatusOK || r.str("client_id") != id || r.json["registration_access_token"] != nil {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
	for name, body := range map[string]string{
		"other client_id":       `{"client_id":"web","redirect_uris":["http://127.0.0.1/cb"]}`,
		"carries the token":     `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1/cb"],"registration_access_token":"x"}`,
		"changes auth method":   `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt"}`,
		"bad redirect":          `{"client_id":"` + id + `","redirect_uris":["http://evil.example/cb"]}`,
		"client_credentials":    `{"client_id":"` + id + `","grant_types":["client_credentials"]}`,
		"carries the issued at": `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1/cb"],"client_id_issued_at":1}`,
	} {
		if r := h.regRequest(http.MethodPut, uri, body, rat); r.status != http.StatusBadRequest {
			t.Errorf("update %s: %d %s", name, r.status, r.body)
		}
	}
	r = h.regRequest(http.MethodPut, uri, `{"client_id":"`+id+`","redirect_uris":["http://127.0.0.1:9/new"],"client_name":"Renamed"}`, rat)
	rat2 := r.str("registration_access_token")
	if r.status != http.StatusOK || r.str("client_name") != "Renamed" || rat2 == "" || rat2 == rat {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if r := h.regRequest(http.MethodGet, uri, "", rat); r.status != http.StatusUnauthorized {
		t.Errorf("the rotated-away token still reads: %d", r.status)
	}
	c, _ := h.st.GetClient(context.Background(), id)
	if c.Name != "Renamed" || c.RedirectURIs[0] != "http://127.0.0.1:9/new" || !c.Dynamic {
		t.Fatalf("updated client %+v", c)
	}

	s := h.newSigner()
	code, v := h.code(h.newBrowser(), id, "http://127.0.0.1:9/new", url.Values{"scope": {"read"}})
	tr := h.exchange(id, code, v, "http://127.0.0.1:9/new", s)
	wantToken(t, tr)
	if r := h.regRequest(http.MethodDelete, uri, "", rat2); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, h.refresh(id, tr.str("refresh_token"), s), http.StatusUnauthorized, oauth.InvalidClient)
	if r := h.regRequest(http.MethodGet, uri, "", rat2); r.status != http.StatusUnauthorized {
		t.Errorf("read after delete: %d", r.status)
	}
}

// TestRegisterRateLimit: registrations are limited per address
// (rate_limits.register.ip): once spent, 429 rate_limited.
func TestRegisterRateLimit(t *testing.T) {
	h := newHarness(t, withRegistration(true), func(c *config.Config) {
		c.RateLimits.Register.IP = config.Rate{Rate: 2, Period: time.Hour, Burst: 2}
	})
	for i := range 2 {
		if r := h.register(publicReg, ""); r.status != http.StatusCreated {
			t.Fatalf("registration %d: %d %s", i, r.status, r.body)
		}
	}
	r := h.register(publicReg, "")
	wantError(t, r, http.StatusTooManyRequests, oauth.RateLimited)
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if !strings.Contains(h.metricsText(), `ward_authz_rate_limited_total{endpoint="register",tier="ip"} 1`) {
		t.Error("the 429 is not counted")
	}
	// Guessing registration access tokens spends the same allowance.
	wantError(t, h.regRequest(http.MethodGet, PathRegister+"/dyn_x", "", "guess"), http.StatusTooManyRequests, oauth.RateLimited)
}

// TestRegisterGlobalRateLimit: registrations from many addresses, each
// well within its own allowance, are refused with 429 and Retry-After once
// the global tier (rate_limits.register.global) is spent, counted under
// tier global; the RFC 7592 requests are not held by it.
func TestRegisterGlobalRateLimit(t *testing.T) {
	h := newHarness(t, withRegistration(true), func(c *config.Config) {
		c.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		c.RateLimits.Register.Global = config.Rate{Rate: 3, Period: time.Hour, Burst: 3}
	})
	from := func(method, path string, i int) *response {
		req, err := http.NewRequest(method, h.issuer+path, strings.NewReader(publicReg))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		return h.do(h.srv.Client(), req)
	}
	for i := range 3 {
		if r := from(http.MethodPost, PathRegister, i); r.status != http.StatusCreated {
			t.Fatalf("registration from address %d: %d %s", i, r.status, r.body)
		}
	}
	for i := 3; i < 6; i++ {
		r := from(http.MethodPost, PathRegister, i)
		wantError(t, r, http.StatusTooManyRequests, oauth.RateLimited)
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	}
	if !strings.Contains(h.metricsText(), `ward_authz_rate_limited_total{endpoint="register",tier="global"} 3`) {
		t.Error("the 429s are not counted under tier global")
	}
	// Managing a registration is not held by the global tier: a wrong
	// registration access token is refused as such.
	req, _ := http.NewRequest(http.MethodGet, h.issuer+PathRegister+"/dyn_x", nil)
	req.Header.Set("Authorization", "Bearer guess")
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	if r := h.do(h.srv.Client(), req); r.status != http.StatusUnauthorized {
		t.Errorf("RFC 7592 read: %d %s, want 401", r.status, r.body)
	}
}

// TestRegisterDefaultRateLimit: without rate_limits.register the default
// allowance (10 at once) holds.
func TestRegisterDefaultRateLimit(t *testing.T) {
	h := newHarness(t, withRegistration(true), func(c *config.Config) { c.RateLimits.Register.IP = config.Rate{} })
	n := 0
	for range 20 {
		if h.register(publicReg, "").status == http.StatusTooManyRequests {
			break
		}
		n++
	}
	if n != 10 {
		t.Fatalf("%d registrations before 429, want 10 (the default burst)", n)
	}
}

// TestDynamicClientExpirySweep: a registered client that got no token
// is deleted by the sweep once registration.unused_ttl has passed; one
// that holds a live grant stays.
func TestDynamicClientExpirySweep(t *testing.T) {
	h := newHarness(t, withRegistration(true), func(c *config.Config) { c.Registration.UnusedTTL = time.Hour })
	unused := h.register(publicReg, "").str("client_id")
	used := h.register(publicReg, "").str("client_id")
	s := h.newSigner()
	code, v := h.code(h.newBrowser(), used, spaRedirect, url.Values{"scope": {"read"}})
	wantToken(t, h.exchange(used, code, v, spaRedirect, s))
	if _, err := h.s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.GetClient(context.Background(), unused); err != nil {
		t.Fatalf("swept before unused_ttl: %v", err)
	}
	h.clk.Advance(h.cfg.Registration.UnusedTTL + time.Second)
	if _, err := h.s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.GetClient(context.Background(), unused); err == nil {
		t.Fatal("the unused dynamic client survived the sweep")
	}
	if _, err := h.st.GetClient(context.Background(), used); err != nil {
		t.Fatalf("the used dynamic client was swept: %v", err)
	}
	if _, err := h.st.GetClient(context.Background(), "spa"); err != nil {
		t.Fatalf("a configured client was swept: %v", err)
	}
}

// metricsText scrapes the server's metrics.
func (h *harness) metricsText() string {
	w := httptest.NewRecorder()
	h.s.MetricsHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return w.Body.String()
}
