package interop

import (
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/authz"
)

// authcodeResult is what interop/authcode-dpop.mjs prints at the end.
type authcodeResult struct {
	Error *npmError `json:"error"`
	Stage string    `json:"stage"`

	Result *struct {
		TokenType             string         `json:"token_type"`
		AccessToken           string         `json:"access_token"`
		RefreshToken          string         `json:"refresh_token"`
		RefreshedTokenType    string         `json:"refreshed_token_type"`
		RefreshedAccessToken  string         `json:"refreshed_access_token"`
		RefreshedRefreshToken string         `json:"refreshed_refresh_token"`
		ResourceStatus        int            `json:"resource_status"`
		Whoami                map[string]any `json:"whoami"`
		Reuse                 npmError       `json:"reuse"`
		AfterReuse            npmError       `json:"after_reuse"`
		OtherKey              *npmError      `json:"other_key"` // mode par
	} `json:"result"`
}

// npmError is an error thrown by openid-client / oauth4webapi, or
// {accepted: true} when the call succeeded.
type npmError struct {
	Accepted         bool   `json:"accepted"`
	Name             string `json:"name"`
	Code             string `json:"code"`
	Message          string `json:"message"`
	Cause            string `json:"cause"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Status           int    `json:"status"`
}

// runAuthcode starts the openid-client script, plays the user's browser
// on Ward's login and consent pages, lets tamper rewrite the redirect,
// and hands it to the script.
func runAuthcode(t *testing.T, w *ward, tamper func(*url.URL), mode ...string) (authcodeResult, string) {
	t.Helper()
	node := needNode(t, "openid-client", "jose")
	args := append([]string{w.issuer, appClient, callback, "demo:read", w.gwURL + "/demo/whoami"}, mode...)
	sc := startScript(t, node, "authcode-dpop.mjs", args...)
	var start struct {
		Authorize string    `json:"authorize"`
		JKT       string    `json:"jkt"`
		Error     *npmError `json:"error"` // PAR refused
		Stage     string    `json:"stage"`
	}
	sc.next(&start)
	if start.Error != nil {
		return authcodeResult{Error: start.Error, Stage: start.Stage}, ""
	}
	au, err := url.Parse(start.Authorize)
	if err != nil || !strings.HasPrefix(start.Authorize, w.issuer+authz.PathAuthorize+"?") {
		t.Fatalf("authorization URL %q: not at %s", start.Authorize, w.issuer+authz.PathAuthorize)
	}
	q := au.Query()
	switch {
	case len(mode) > 0 && mode[0] == "par":
		if q.Get("request_uri") == "" || q.Get("code_challenge") != "" || q.Get("dpop_jkt") != "" {
			t.Fatalf("authorization URL %s: want only client_id and request_uri (PAR)", start.Authorize)
		}
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("dpop_jkt") != start.JKT:
		t.Fatalf("authorization URL %s: want PKCE S256 and dpop_jkt %s", start.Authorize, start.JKT)
	}
	final, err := browse(start.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if got := final.Query().Get("iss"); got != w.issuer {
		t.Fatalf("redirect %s: iss %q, want %q (RFC 9207)", final, got, w.issuer)
	}
	if tamper != nil {
		tamper(final)
	}
	sc.send(final.String())
	var res authcodeResult
	sc.next(&res)
	return res, start.JKT
}

// TestOpenIDClientAuthCodeDPoP: openid-client, as a public client, signs
// the user in at Ward with authorization code + PKCE + dpop_jkt, redeems
// the code with its own DPoP proofs (through a use_dpop_nonce round),
// refreshes with rotation, and calls the demo API through Ward's gateway
// with fetchProtectedResource (the gateway demands a nonce too). The
// upstream must see alice, the client and the npm key's thumbprint; the
// rotated refresh token must be refused, and its reuse must revoke the
// grant.
func TestOpenIDClientAuthCodeDPoP(t *testing.T) {
	w := newWard(t)
	res, jkt := runAuthcode(t, w, nil)
	if res.Error != nil {
		t.Fatalf("openid-client failed at %s: %+v", res.Stage, *res.Error)
	}
	r := res.Result
	for _, tt := range []string{r.TokenType, r.RefreshedTokenType} {
		if !strings.EqualFold(tt, "DPoP") {
			t.Fatalf("token_type %q, want DPoP", tt)
		}
	}
	for _, tok := range []string{r.AccessToken, r.RefreshedAccessToken} {
		_, cl := decodeJWT(t, tok)
		cnf, _ := cl["cnf"].(map[string]any)
		if cl["sub"] != testSubject || cl["client_id"] != appClient || cl["iss"] != w.issuer || cnf["jkt"] != jkt {
			t.Fatalf("access token claims %v: want sub %s, client_id %s, iss %s, cnf.jkt %s", cl, testSubject, appClient, w.issuer, jkt)
		}
	}
	if r.RefreshToken == "" || r.RefreshedRefreshToken == "" || r.RefreshToken == r.RefreshedRefreshToken {
		t.Fatal("the refresh token was not rotated")
	}

	// What the upstream saw, through the gateway.
	if r.ResourceStatus != 200 {
		t.Fatalf("gateway answered %d: %v", r.ResourceStatus, r.Whoami)
	}
	seen := w.upstreamSeen()
	if len(seen) != 1 {
		t.Fatalf("the upstream got %d requests, want 1", len(seen))
	}
	for h, want := range map[string]string{"X-Ward-Subject": testSubject, "X-Ward-Client": appClient, "X-Ward-Jkt": jkt} {
		if got := seen[0].Get(h); got != want {
			t.Errorf("upstream saw %s %q, want %q", h, got, want)
		}
	}
	if seen[0].Get("Authorization") != "" || seen[0].Get("DPoP") != "" {
		t.Error("the token or the proof reached the upstream")
	}
	if ih, _ := r.Whoami["identity_headers"].(map[string]any); ih["X-Ward-Subject"] != testSubject {
		t.Errorf("whoami answered %v", r.Whoami)
	}

	// Rotation and reuse detection (RFC 9700 §4.14.2).
	if r.Reuse.Accepted || r.Reuse.Error != "invalid_grant" {
		t.Errorf("the rotated refresh token: %+v, want invalid_grant", r.Reuse)
	}
	if r.AfterReuse.Accepted || r.AfterReuse.Error != "invalid_grant" {
		t.Errorf("the newest refresh token after reuse: %+v, want invalid_grant (grant revoked)", r.AfterReuse)
	}

	// Code, then refresh, reuse, after reuse: the code exchange had a
	// use_dpop_nonce round first, later requests reused the cached nonce.
	if n := w.count(authz.PathToken); n != 5 {
		t.Errorf("%d token requests, want 5 (use_dpop_nonce, code, refresh, reuse, after reuse)", n)
	}
}

// TestOpenIDClientRefusesWrongIss: the redirect carries another iss (a
// mix-up attack, RFC 9207); openid-client must refuse it before sending
// the code anywhere.
func TestOpenIDClientRefusesWrongIss(t *testing.T) {
	w := newWard(t)
	res, _ := runAuthcode(t, w, func(u *url.URL) {
		q := u.Query()
		q.Set("iss", "http://mix-up.example")
		u.RawQuery = q.Encode()
	})
	if res.Error == nil || res.Stage != "code" {
		t.Fatalf("openid-client accepted a redirect with another iss: %+v", res)
	}
	if !strings.Contains(res.Error.Message+" "+res.Error.Cause, `"iss"`) {
		t.Errorf("error %+v does not name iss", *res.Error)
	}
	if n := w.count(authz.PathToken); n != 0 {
		t.Errorf("%d token requests: the code was sent despite the wrong iss", n)
	}
}

// TestOpenIDClientPARWithDPoPProof: openid-client pushes the authorization
// request with its own DPoP proof and no dpop_jkt
// (buildAuthorizationUrlWithPAR with a DPoP handle, through Ward's
// use_dpop_nonce challenge at PAR). Ward verifies that proof and binds the
// code to its key (RFC 9449 §10.1): the code presented with a proof of
// another key is refused with invalid_dpop_proof, then redeemed with the
// pushing key, and the tokens carry its thumbprint.
func TestOpenIDClientPARWithDPoPProof(t *testing.T) {
	w := newWard(t)
	res, jkt := runAuthcode(t, w, nil, "par")
	if res.Error != nil {
		t.Fatalf("openid-client failed at %s: %+v", res.Stage, *res.Error)
	}
	r := res.Result
	if r.OtherKey == nil || r.OtherKey.Accepted || r.OtherKey.Error != "invalid_dpop_proof" {
		t.Fatalf("the code pushed with one key, redeemed with another: %+v, want invalid_dpop_proof", r.OtherKey)
	}
	_, cl := decodeJWT(t, r.AccessToken)
	if cnf, _ := cl["cnf"].(map[string]any); cnf["jkt"] != jkt || cl["sub"] != testSubject {
		t.Fatalf("access token claims %v: want sub %s, cnf.jkt %s", cl, testSubject, jkt)
	}
	if n := w.count(authz.PathPAR); n < 1 {
		t.Fatalf("%d PAR requests", n)
	}
}
