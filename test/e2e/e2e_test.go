package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/jws"
)

// TestHappyPath: the authorization server issues a DPoP-bound token (after
// a use_dpop_nonce round trip), the client calls /demo/whoami through the
// gateway with a fresh proof carrying ath, and the upstream receives the
// verified identity, one value per header, never the client's forged
// X-Ward-* headers nor its credentials.
func TestHappyPath(t *testing.T) {
	s := newSystem(t)
	sg, _ := s.newSigner(0)
	tok := s.token(sg, serviceClient, "demo:read")
	if s.nonceChallenges != 1 {
		t.Errorf("use_dpop_nonce challenges = %d, want 1 (nonces are on)", s.nonceChallenges)
	}
	_, cl := decodeJWT(t, tok)
	cnf, _ := cl["cnf"].(map[string]any)
	if cnf["jkt"] != sg.Thumbprint() || cl["aud"] != s.gwURL || cl["iss"] != s.asURL || cl["client_id"] != serviceClient {
		t.Fatalf("token claims: %v", cl)
	}

	forged := http.Header{
		"X-Ward-Subject": {"admin"}, "X-Ward-Client": {"root"},
		"X-Ward-Scopes": {"demo:admin"}, "X-Ward-Jkt": {"forged-thumbprint"},
	}
	r := s.call(sg, http.MethodGet, "/demo/whoami", tok, forged)
	if r.status != http.StatusOK {
		t.Fatalf("whoami: %d %s %v", r.status, r.body, r.header)
	}
	if got := s.hits.Load(); got != 1 {
		t.Errorf("upstream hits = %d, want 1", got)
	}
	var who struct {
		Headers map[string]string `json:"identity_headers"`
		Auth    bool              `json:"authorization_forwarded"`
		DPoP    bool              `json:"dpop_forwarded"`
		Path    string            `json:"path"`
	}
	if err := json.Unmarshal(r.body, &who); err != nil {
		t.Fatalf("whoami body %s: %v", r.body, err)
	}
	want := map[string]string{
		"X-Ward-Subject": serviceClient, // client_credentials: the client acts on its own behalf
		"X-Ward-Client":  serviceClient,
		"X-Ward-Scopes":  "demo:read",
		"X-Ward-Jkt":     sg.Thumbprint(),
	}
	if len(who.Headers) != len(want) {
		t.Errorf("identity headers = %v, want exactly %v", who.Headers, want)
	}
	for k, v := range want {
		if who.Headers[k] != v {
			t.Errorf("upstream %s = %q, want %q", k, who.Headers[k], v)
		}
	}
	if who.Auth || who.DPoP || who.Path != "/demo/whoami" {
		t.Errorf("authorization_forwarded=%v dpop_forwarded=%v path=%q", who.Auth, who.DPoP, who.Path)
	}
	// The raw headers, one value each: the forged ones were removed, not
	// joined with the real ones.
	seen := s.lastSeen().header
	for k, v := range want {
		if got := seen.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("upstream header %s = %q, want [%q]", k, got, v)
		}
	}
	for k, v := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := r.header.Get(k); got != v {
			t.Errorf("response %s = %q, want %q", k, got, v)
		}
	}
	if m := s.metrics(); !strings.Contains(m, `ward_gateway_requests_total{outcome="allowed",route="demo"} 1`) {
		t.Errorf("metrics lack the allowed request:\n%s", grep(m, "ward_gateway_requests_total"))
	}
	if n := len(s.rejections()); n != 0 {
		t.Errorf("rejections on the happy path: %v", s.rejections())
	}
	// The log carries the key thumbprint, never the token.
	if strings.Contains(s.log.String(), tok) {
		t.Error("the access token was logged")
	}

	// A second call with a new proof for the same token works; the proof
	// is per request, the token is not.
	if r := s.call(sg, http.MethodGet, "/demo/whoami", tok, nil); r.status != http.StatusOK {
		t.Fatalf("second call: %d %s", r.status, r.body)
	}

	// Revocation: the gateway validates JWT access tokens locally (and
	// caches them until exp), so a token revoked at POST /revoke stays
	// usable at the gateway until it expires, unless the gateway is set
	// up with introspection (gateway.Options.Introspector). Access tokens
	// are short-lived (10 minutes by default) for this reason. Not tested
	// here on purpose: it is the documented behaviour, not a guarantee.
}

// TestForgedIdentityHeaders: X-Ward-* headers sent by a client never reach
// the upstream, whether the request is refused (nothing reaches it), on a
// public route, or authenticated (the verified values replace them).
func TestForgedIdentityHeaders(t *testing.T) {
	s := newSystem(t)
	forged := http.Header{"X-Ward-Subject": {"admin"}, "X-Ward-Client": {"root"}, "X-Ward-Scopes": {"demo:admin"}, "X-Ward-Jkt": {"x"}}

	// Without a token: 401 with no error code (RFC 6750 §3.1), upstream
	// untouched.
	r := s.do(http.MethodGet, "/demo/whoami", "", "", forged)
	if r.status != http.StatusUnauthorized || r.errorCode != "" || r.challengeParam("algs") != "ES256 EdDSA" {
		t.Errorf("no token: %d %q %v", r.status, r.errorCode, r.header.Values("WWW-Authenticate"))
	}
	if got := s.hits.Load(); got != 0 {
		t.Fatalf("a request without a token reached the upstream (%d hits)", got)
	}
	if got := s.rejections(); got["/no_token"] != 1 || len(got) != 1 {
		t.Errorf("rejections = %v, want /no_token 1", got)
	}

	// A public route: forwarded, with the forged headers (and any
	// credentials) stripped.
	h := forged.Clone()
	h.Set("Authorization", "Bearer stolen")
	if r := s.do(http.MethodGet, "/demo/public", "", "", h); r.status != http.StatusOK {
		t.Fatalf("public: %d %s", r.status, r.body)
	}
	seen := s.lastSeen()
	if seen.path != "/demo/public" {
		t.Fatalf("upstream saw %s", seen.path)
	}
	for k := range h {
		if v := seen.header.Values(k); len(v) != 0 {
			t.Errorf("public route: upstream received %s: %q", k, v)
		}
	}

	// Authenticated: only the verified identity.
	sg, _ := s.newSigner(0)
	tok := s.token(sg, serviceClient, "demo:read demo:write")
	if r := s.call(sg, http.MethodGet, "/demo/whoami", tok, forged); r.status != http.StatusOK {
		t.Fatalf("whoami: %d %s", r.status, r.body)
	}
	seen = s.lastSeen()
	for k, v := range map[string]string{"X-Ward-Subject": serviceClient, "X-Ward-Client": serviceClient, "X-Ward-Scopes": "demo:read demo:write", "X-Ward-Jkt": sg.Thumbprint()} {
		if got := seen.header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("upstream %s = %q, want [%q]", k, got, v)
		}
	}
}

// attack is one refused request. prepare runs the legitimate steps first
// (getting tokens, using a proof once) and returns the attacker's request.
type attack struct {
	name    string
	prepare func(t *testing.T, s *system, a *actors) attackRequest
	status  int
	code    string // "error" in the body and the DPoP challenge
	reason  string // ward_gateway_rejections_total{reason=...}
	scope   string // scope= in the challenge, for insufficient_scope
	// noJKT: the token is not verified, so no key thumbprint is known
	// to log.
	noJKT bool
}

type attackRequest struct {
	method, path, authorization, proof string
}

// actors: the legitimate client (its key, signer and token) as the
// attacks start.
type actors struct {
	key *ecdsa.PrivateKey
	sg  *dpop.Signer
	tok string
}

// TestAttacks: each attack of issue 4's list is refused by the gateway
// with the expected status, error code and stable reason (read from the
// admin listener's metrics), and nothing reaches the upstream. Each runs
// on a fresh system so the metrics and the clock are its own.
func TestAttacks(t *testing.T) {
	const whoami = "/demo/whoami"
	get := func(path, authz, proof string) attackRequest {
		return attackRequest{http.MethodGet, path, authz, proof}
	}
	// useOnce makes a legitimate call with proof and checks it succeeds.
	useOnce := func(t *testing.T, s *system, tok, proof string) {
		t.Helper()
		if r := s.do(http.MethodGet, whoami, "DPoP "+tok, proof, nil); r.status != http.StatusOK {
			t.Fatalf("legitimate use: %d %s", r.status, r.body)
		}
	}
	attacks := []attack{
		{
			name: "token stolen without the key",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				thief, _ := s.newSigner(0)
				return get(whoami, "DPoP "+a.tok, s.proof(thief, http.MethodGet, whoami, a.tok))
			},
			status: 401, code: "invalid_dpop_proof", reason: "jkt_mismatch",
		},
		{
			name: "proof replayed",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				p := s.proof(a.sg, http.MethodGet, whoami, a.tok)
				useOnce(t, s, a.tok, p)
				return get(whoami, "DPoP "+a.tok, p)
			},
			status: 401, code: "invalid_dpop_proof", reason: "replayed",
		},
		{
			name: "malleated copy of a used proof (r, n-s)",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				p := s.proof(a.sg, http.MethodGet, whoami, a.tok)
				useOnce(t, s, a.tok, p)
				return get(whoami, "DPoP "+a.tok, malleate(t, p))
			},
			status: 401, code: "invalid_dpop_proof", reason: "replayed",
		},
		{
			name: "proof for another method",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				return get(whoami, "DPoP "+a.tok, s.proof(a.sg, http.MethodPost, whoami, a.tok))
			},
			status: 401, code: "invalid_dpop_proof", reason: "htm_mismatch",
		},
		{
			name: "proof for another URL",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				return get(whoami, "DPoP "+a.tok, s.proof(a.sg, http.MethodGet, "/demo/other", a.tok))
			},
			status: 401, code: "invalid_dpop_proof", reason: "htu_mismatch",
		},
		{
			name: "proof for another token (ath)",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				// A second token bound to the same key: the proof made
				// for it cannot carry the first one.
				tok2 := s.token(a.sg, serviceClient, "demo:read")
				if tok2 == a.tok {
					t.Fatal("the server issued the same token twice")
				}
				return get(whoami, "DPoP "+a.tok, s.proof(a.sg, http.MethodGet, whoami, tok2))
			},
			status: 401, code: "invalid_dpop_proof", reason: "ath_mismatch",
		},
		{
			name: "proof iat too old",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				old := s.signerFor(a.key, -2*time.Minute) // the window is 60s
				return get(whoami, "DPoP "+a.tok, s.proof(old, http.MethodGet, whoami, a.tok))
			},
			status: 401, code: "invalid_dpop_proof", reason: "iat_too_old",
		},
		{
			name: "proof iat in the future",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				future := s.signerFor(a.key, time.Minute) // the leeway is 5s
				return get(whoami, "DPoP "+a.tok, s.proof(future, http.MethodGet, whoami, a.tok))
			},
			status: 401, code: "invalid_dpop_proof", reason: "iat_in_future",
		},
		{
			name: "alg none proof with the victim's public key",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				in := signingInput(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": publicJWK(a.key, false)}, s.proofClaims(http.MethodGet, whoami, a.tok))
				return get(whoami, "DPoP "+a.tok, in+".")
			},
			status: 401, code: "invalid_dpop_proof", reason: "bad_alg",
		},
		{
			name: "HMAC-signed proof keyed with the victim's public key",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				jwk := publicJWK(a.key, false)
				in := signingInput(map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}, s.proofClaims(http.MethodGet, whoami, a.tok))
				pub, _ := a.key.PublicKey.Bytes()
				mac := hmac.New(sha256.New, pub)
				mac.Write([]byte(in))
				return get(whoami, "DPoP "+a.tok, in+"."+b64.EncodeToString(mac.Sum(nil)))
			},
			status: 401, code: "invalid_dpop_proof", reason: "bad_alg",
		},
		{
			name: "private key in the proof's jwk",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				// Correctly signed by the bound key, but the client
				// published its private key: refused (RFC 9449 §4.3).
				in := signingInput(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(a.key, true)}, s.proofClaims(http.MethodGet, whoami, a.tok))
				return get(whoami, "DPoP "+a.tok, in+"."+es256(a.key, in))
			},
			status: 401, code: "invalid_dpop_proof", reason: "private_key",
		},
		{
			name: "DPoP-bound token sent as Bearer",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				return get(whoami, "Bearer "+a.tok, "")
			},
			status: 401, code: "invalid_token", reason: "dpop_token_as_bearer",
		},
		{
			name: "DPoP-bound token sent as Bearer with a valid proof",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				return get(whoami, "Bearer "+a.tok, s.proof(a.sg, http.MethodGet, whoami, a.tok))
			},
			status: 401, code: "invalid_token", reason: "dpop_token_as_bearer",
		},
		{
			name: "token for another audience",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				other := s.token(a.sg, otherClient, "demo:read")
				if _, cl := decodeJWT(t, other); cl["aud"] != otherAudience {
					t.Fatalf("other client's token aud = %v", cl["aud"])
				}
				return get(whoami, "DPoP "+other, s.proof(a.sg, http.MethodGet, whoami, other))
			},
			status: 401, code: "invalid_token", reason: "wrong_audience",
		},
		{
			name: "missing scope required by the route",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				return get("/demo/admin", "DPoP "+a.tok, s.proof(a.sg, http.MethodGet, "/demo/admin", a.tok))
			},
			status: 403, code: "insufficient_scope", reason: "insufficient_scope", scope: adminScope,
		},
		{
			name: "missing scope required by a policy rule",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				// The token has demo:read; POST needs demo:write.
				return attackRequest{http.MethodPost, whoami, "DPoP " + a.tok, s.proof(a.sg, http.MethodPost, whoami, a.tok)}
			},
			status: 403, code: "insufficient_scope", reason: "policy_insufficient_scope", scope: "demo:write",
		},
		{
			name: "expired token (already cached by the gateway)",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				useOnce(t, s, a.tok, s.proof(a.sg, http.MethodGet, whoami, a.tok))
				// 10m lifetime + 10s leeway.
				s.clk.Advance(10*time.Minute + 11*time.Second)
				return get(whoami, "DPoP "+a.tok, s.proof(a.sg, http.MethodGet, whoami, a.tok))
			},
			status: 401, code: "invalid_token", reason: "expired",
		},
		{
			name: "unknown kid (a key the AS never published)",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				forged := forgeToken(t, s, a, "rogue-kid")
				return get(whoami, "DPoP "+forged, s.proof(a.sg, http.MethodGet, whoami, forged))
			},
			status: 401, code: "invalid_token", reason: "unknown_kid", noJKT: true,
		},
		{
			name: "revoked token replayed",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				useOnce(t, s, a.tok, s.proof(a.sg, http.MethodGet, whoami, a.tok)) // in the token cache
				s.revoke(a.tok, serviceClient)
				return get(whoami, "DPoP "+a.tok, s.proof(a.sg, http.MethodGet, whoami, a.tok))
			},
			status: 401, code: "invalid_token", reason: "revoked",
		},
		{
			// Issue 18: an ID token is signed by the same keys as access
			// tokens; its typ (JWT, not at+jwt) keeps it out, even when
			// its aud happens to be the gateway's audience.
			name: "OpenID Connect ID token as access token",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				idt := idTokenFor(t, s, a)
				return get(whoami, "DPoP "+idt, s.proof(a.sg, http.MethodGet, whoami, idt))
			},
			status: 401, code: "invalid_token", reason: "bad_token_typ", noJKT: true,
		},
		{
			name: "token signed by another key under the AS's kid",
			prepare: func(t *testing.T, s *system, a *actors) attackRequest {
				forged := forgeToken(t, s, a, asKID(t, a.tok))
				return get(whoami, "DPoP "+forged, s.proof(a.sg, http.MethodGet, whoami, forged))
			},
			status: 401, code: "invalid_token", reason: "bad_signature", noJKT: true,
		},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			s := newSystem(t)
			sg, key := s.newSigner(0)
			a := &actors{key: key, sg: sg, tok: s.token(sg, serviceClient, "demo:read")}
			req := at.prepare(t, s, a)
			before := s.hits.Load()
			r := s.do(req.method, req.path, req.authorization, req.proof, nil)
			if r.status != at.status || r.errorCode != at.code {
				t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.errorCode, at.status, at.code, r.body)
			}
			if got := r.challengeParam("error"); got != at.code {
				t.Errorf("WWW-Authenticate error=%q, want %q (%v)", got, at.code, r.header.Values("WWW-Authenticate"))
			}
			if got := r.challengeParam("scope"); got != at.scope {
				t.Errorf("WWW-Authenticate scope=%q, want %q", got, at.scope)
			}
			if got := s.hits.Load(); got != before {
				t.Errorf("the refused request reached the upstream (%d hits, %d before)", got, before)
			}
			want := at.code + "/" + at.reason
			if got := s.rejections(); len(got) != 1 || got[want] != 1 {
				t.Errorf("rejections = %v, want exactly %s = 1", got, want)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers missing on a refusal: %v", r.header)
			}
			// The refusal is logged with the same reason as the metric and
			// the key thumbprint, never the token.
			log := s.log.String()
			if strings.Contains(log, a.tok) {
				t.Error("the access token was logged")
			}
			if !at.noJKT && !strings.Contains(log, "jkt="+a.sg.Thumbprint()) {
				t.Errorf("the log lacks jkt=%s", a.sg.Thumbprint())
			}
			logged := regexp.MustCompile(`(?m)level=INFO msg="request (rejected|denied by policy)".* reason=` + regexp.QuoteMeta(at.reason) + `( |$)`).MatchString(log)
			if !logged {
				t.Errorf("the log lacks the refusal with reason=%s:\n%s", at.reason, log)
			}
		})
	}
}

// forgeToken makes an RFC 9068 access token that would be valid (issuer,
// audience, times, cnf.jkt of the client's key) but is signed by a key the
// authorization server does not have, under kid.
func forgeToken(t *testing.T, s *system, a *actors, kid string) string {
	t.Helper()
	rogue, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := s.clk.Now()
	claims := map[string]any{
		"iss": s.asURL, "sub": serviceClient, "client_id": serviceClient, "aud": s.gwURL,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "forged-1",
		"scope": "demo:read demo:admin", "cnf": map[string]any{"jkt": a.sg.Thumbprint()},
	}
	in := signingInput(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims)
	return in + "." + es256(rogue, in)
}

// idTokenFor makes what Ward's ID tokens are (authz/idtoken.go: typ JWT,
// the AS's signing key), for a client whose id is the gateway's audience,
// with the client's key in cnf: everything an access token for the
// gateway has, except its type.
func idTokenFor(t *testing.T, s *system, a *actors) string {
	t.Helper()
	k, err := s.km.Signer(s.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := s.clk.Now()
	claims := map[string]any{
		"iss": s.asURL, "sub": serviceClient, "aud": s.gwURL, "azp": s.gwURL, "client_id": serviceClient,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "auth_time": now.Unix(), "jti": "id-1",
		"nonce": "n", "acr": "urn:ward:acr:pwd", "amr": []string{"pwd"}, "scope": "demo:read",
		"cnf": map[string]any{"jkt": a.sg.Thumbprint()},
	}
	hdr, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "kid": k.KeyID})
	payload, _ := json.Marshal(claims)
	tok, err := jws.Sign(k.Signer, "ES256", b64.EncodeToString(hdr), payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
