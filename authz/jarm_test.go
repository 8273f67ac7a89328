package authz

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// verifyServerJWS verifies raw with the server's published keys (/jwks)
// and algorithm alg only, and returns its header and claims.
func (h *harness) verifyServerJWS(t *testing.T, raw string, alg jose.SignatureAlgorithm) (map[string]any, map[string]any) {
	t.Helper()
	sig, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("not a %s JWS: %v", alg, err)
	}
	set := h.s.km.JWKS(h.clk.Now())
	ks := set.Key(sig.Signatures[0].Header.KeyID)
	if len(ks) != 1 {
		t.Fatalf("kid %q is not published at /jwks", sig.Signatures[0].Header.KeyID)
	}
	if _, err := sig.Verify(ks[0].Key); err != nil {
		t.Fatalf("signature does not verify with /jwks: %v", err)
	}
	return decodeJWT(t, raw)
}

// jarmResponse returns the one response parameter of a JARM redirect.
func jarmResponse(t *testing.T, q url.Values) string {
	t.Helper()
	if len(q) != 1 || len(q["response"]) != 1 {
		t.Fatalf("a JARM redirect carries exactly one response parameter, got %v", q)
	}
	return q.Get("response")
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestJARMCodeResponse: response_mode=jwt and query.jwt (JARM §2.3.1,
// §2.3.4) return the code and state only inside one signed JWT —
// header alg ES256, kid of /jwks, typ JWT; claims exactly iss, aud (the
// client), exp (10 minutes), code, state — and the code inside redeems.
func TestJARMCodeResponse(t *testing.T) {
	for _, mode := range []string{"jwt", "query.jwt"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			v, _ := pkce.NewVerifier()
			p := authParams("web", webRedirect, pkce.Challenge(v))
			p.Set("response_mode", mode)
			hdr, cl := h.verifyServerJWS(t, jarmResponse(t, h.authorize(h.newBrowser(), p)), jose.ES256)
			if hdr["alg"] != "ES256" || hdr["typ"] != "JWT" || hdr["kid"] == "" || len(hdr) != 3 {
				t.Errorf("header %v", hdr)
			}
			if got := keysOf(cl); !reflect.DeepEqual(got, []string{"aud", "code", "exp", "iss", "state"}) {
				t.Errorf("claims %v", got)
			}
			if cl["iss"] != h.issuer || cl["aud"] != "web" || cl["state"] != "st-web" ||
				cl["exp"] != float64(h.clk.Now().Add(10*time.Minute).Unix()) {
				t.Errorf("claims %v", cl)
			}
			wantToken(t, h.exchange("web", cl["code"].(string), v, webRedirect, h.newSigner()))
		})
	}
}

// TestJARMErrorResponses: once the client and redirect URI are verified,
// errors go back as a signed JWT too (JARM §2.2): error,
// error_description and state, no code; before, they stay on the error
// page. An unsupported response mode is answered in the plain query.
func TestJARMErrorResponses(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	get := func(p url.Values) *response { return b.get(h.issuer + PathAuthorize + "?" + p.Encode()) }
	p := authParams("web", webRedirect, "")
	p.Del("code_challenge")
	p.Set("response_mode", "jwt")
	_, cl := h.verifyServerJWS(t, jarmResponse(t, redirectQuery(t, get(p))), jose.ES256)
	if got := keysOf(cl); !reflect.DeepEqual(got, []string{"aud", "error", "error_description", "exp", "iss", "state"}) {
		t.Errorf("error claims %v", got)
	}
	if cl["error"] != oauth.InvalidRequest || cl["state"] != "st-web" || cl["aud"] != "web" || cl["iss"] != h.issuer {
		t.Errorf("error claims %v", cl)
	}

	// The user refuses consent: access_denied, signed.
	v, _ := pkce.NewVerifier()
	p = authParams("web", webRedirect, pkce.Challenge(v))
	p.Set("response_mode", "query.jwt")
	r := b.login(get(p), "alice", testPassword)
	_, cl = h.verifyServerJWS(t, jarmResponse(t, redirectQuery(t, b.consent(r, "deny"))), jose.ES256)
	if cl["error"] != oauth.AccessDenied || cl["state"] != "st-web" || cl["code"] != nil {
		t.Errorf("denied consent %v", cl)
	}

	// fragment.jwt and form_post.jwt: Ward has no fragment or form_post
	// response; refused in the plain query, with iss.
	for _, mode := range []string{"fragment.jwt", "form_post.jwt", "form_post", "JWT"} {
		p = authParams("web", webRedirect, pkce.Challenge(v))
		p.Set("response_mode", mode)
		q := redirectQuery(t, get(p))
		if q.Get("error") != oauth.InvalidRequest || q.Get("iss") != h.issuer || q.Has("response") {
			t.Errorf("response_mode %s: %v", mode, q)
		}
	}

	// A redirect URI that is not registered: the error page, never a
	// response to it, JARM or not.
	p = authParams("web", "https://evil.example/cb", pkce.Challenge(v))
	p.Set("response_mode", "jwt")
	if r := get(p); r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Errorf("unregistered redirect_uri: %d %s", r.status, r.header.Get("Location"))
	}
}

// TestJARMCancelLink: the login page's cancel link of a JARM request
// carries the signed access_denied response, not plain parameters.
func TestJARMCancelLink(t *testing.T) {
	h := newHarness(t)
	req := &authRequest{ClientID: "web", RedirectURI: webRedirect, State: "s1", ResponseMode: responseModeQueryJWT}
	u, err := url.Parse(string(h.s.cancelURL(context.Background(), req)))
	if err != nil {
		t.Fatal(err)
	}
	_, cl := h.verifyServerJWS(t, jarmResponse(t, u.Query()), jose.ES256)
	if cl["error"] != oauth.AccessDenied || cl["state"] != "s1" || cl["aud"] != "web" {
		t.Errorf("cancel link claims %v", cl)
	}
}

// TestJARMClientAlgorithm: a client that registered
// authorization_signed_response_alg RS256 gets RS256 responses, signed by
// the RSA key published at /jwks (JARM §3).
func TestJARMClientAlgorithm(t *testing.T) {
	h := newHarness(t)
	c := store.Client{ID: "jarmrsa", AuthMethod: oauth.AuthNone, RedirectURIs: []string{spaRedirect},
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode}, Scopes: []string{"read", "write"},
		AuthorizationSignedResponseAlg: store.AlgRS256}
	if _, err := CreateClient(context.Background(), h.st, &c, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	v, _ := pkce.NewVerifier()
	p := authParams("jarmrsa", spaRedirect, pkce.Challenge(v))
	p.Set("response_mode", "jwt")
	hdr, cl := h.verifyServerJWS(t, jarmResponse(t, h.authorize(h.newBrowser(), p)), jose.RS256)
	if hdr["alg"] != "RS256" || cl["aud"] != "jarmrsa" || cl["code"] == "" {
		t.Errorf("RS256 response %v %v", hdr, cl)
	}
}

// TestParseResponseMode: jwt is query.jwt for the code flow (JARM
// §2.3.4); names are case-sensitive; fragment and form_post modes are
// refused.
func TestParseResponseMode(t *testing.T) {
	for in, want := range map[string]string{"": "", "query": "", "jwt": responseModeQueryJWT, "query.jwt": responseModeQueryJWT} {
		if got, err := parseResponseMode(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"fragment", "fragment.jwt", "form_post", "form_post.jwt", "Query.JWT", "jwt ", strings.Repeat("x", 100)} {
		if _, err := parseResponseMode(in); err == nil || err.Code != oauth.InvalidRequest {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestJARMPushed: response_mode pushed with the request (RFC 9126) is
// honoured at /authorize, where only the pushed parameters count.
func TestJARMPushed(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	p := authParams("web", webRedirect, pkce.Challenge(v))
	p.Set("response_mode", "jwt")
	r := h.post(PathPAR, p, h.auth("web", p)...)
	if r.status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"web"}, "request_uri": {r.str("request_uri")}})
	_, cl := h.verifyServerJWS(t, jarmResponse(t, q), jose.ES256)
	if cl["code"] == nil || cl["state"] != "st-web" {
		t.Fatalf("pushed JARM request: %v", cl)
	}
}

// TestJARMFromRequestObject: FAPI 2.0 Message Signing's pairing — a
// signed request object (RFC 9101) asking for response_mode=jwt, pushed,
// gets a JARM response; response_mode beside an object that does not ask
// for it is ignored (only the object's parameters count, RFC 9101 §6.3).
func TestJARMFromRequestObject(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	r := h.pushRO(h.ro(pkce.Challenge(v), func(c map[string]any) { c["response_mode"] = "jwt" }), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"jwt"}, "request_uri": {r.str("request_uri")}})
	_, cl := h.verifyServerJWS(t, jarmResponse(t, q), jose.ES256)
	if cl["code"] == nil || cl["state"] != "st-object" || cl["aud"] != "jwt" {
		t.Fatalf("request object asking for JARM: %v", cl)
	}
	q = h.authorize(h.newBrowser(), url.Values{"client_id": {"jwt"}, "request": {h.ro(pkce.Challenge(v), nil)}, "response_mode": {"jwt"}})
	if q.Get("code") == "" || q.Has("response") {
		t.Fatalf("response_mode outside the object was used: %v", q)
	}
}
