package resource_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/resource"
)

// TestAttacks runs every attack of issue 4 against the middleware and
// checks the status, the error code, the stable reason and the challenge.
func TestAttacks(t *testing.T) {
	type attack struct {
		name string
		req  resource.Requirement
		// setup returns the request's method, Authorization and DPoP
		// headers; it may send earlier requests.
		setup      func(t *testing.T, f *fixture) (method, auth string, proofs []string)
		status     int
		code       string // error in the body and challenge ("" for none)
		reason     string
		challenge  string // substring of a WWW-Authenticate value
		nonce      bool   // DPoP-Nonce header expected
		fixtureMod func(*resource.Config, *[]dpop.VerifierOption)
	}
	dpopAuth := func(f *fixture) (string, string) {
		tok := f.is.token(t, f.is.claims(f.cl.signer.Thumbprint()))
		return tok, "DPoP " + tok
	}
	attacks := []attack{
		{
			name: "valid DPoP request",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				return "GET", auth, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 200,
		},
		{
			name: "no credentials: challenge without error",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				return "GET", "", nil
			},
			status: 401, reason: resource.ReasonNoToken,
			challenge: `DPoP algs="ES256 EdDSA", resource_metadata="https://api.example/.well-known/oauth-protected-resource"`,
		},
		{
			name: "token stolen without the key",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				thief := newClient(t, testNow)
				return "GET", auth, []string{thief.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_dpop_proof", reason: resource.ReasonKeyMismatch,
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "token stolen, no proof at all",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				_, auth := dpopAuth(f)
				return "GET", auth, nil
			},
			status: 401, code: "invalid_dpop_proof", reason: string(dpop.ReasonMissing),
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "proof replayed",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				p := f.cl.proof(t, "GET", apiURL, tok)
				if w := f.do(resource.Requirement{}, "GET", apiURL, auth, p); w.Code != 200 {
					t.Fatalf("first use: %d %s", w.Code, w.Body)
				}
				return "GET", auth, []string{p}
			},
			status: 401, code: "invalid_dpop_proof", reason: resource.ReasonReplayed,
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "proof replayed as the malleated (r, n-s) copy",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				p := f.cl.proof(t, "GET", apiURL, tok)
				if w := f.do(resource.Requirement{}, "GET", apiURL, auth, p); w.Code != 200 {
					t.Fatalf("first use: %d %s", w.Code, w.Body)
				}
				return "GET", auth, []string{malleate(t, p)}
			},
			status: 401, code: "invalid_dpop_proof", reason: resource.ReasonReplayed,
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "proof for another method",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				return "DELETE", auth, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_dpop_proof", reason: resource.ReasonHTMMismatch,
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "proof for another URL",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				return "GET", auth, []string{f.cl.proof(t, "GET", "https://api.example/payments", tok)}
			},
			status: 401, code: "invalid_dpop_proof", reason: resource.ReasonHTUMismatch,
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "proof for another token (ath)",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				_, auth := dpopAuth(f)
				c := f.is.claims(f.cl.signer.Thumbprint())
				c["jti"] = "other"
				other := f.is.token(t, c)
				return "GET", auth, []string{f.cl.proof(t, "GET", apiURL, other)}
			},
			status: 401, code: "invalid_dpop_proof", reason: resource.ReasonATHMismatch,
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "old proof iat",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				s, _ := dpop.NewSigner(f.cl.key, dpop.WithClock(func() time.Time { return testNow.Add(-10 * time.Minute) }))
				p, _ := s.Proof("GET", apiURL, dpop.WithAccessToken(tok))
				return "GET", auth, []string{p}
			},
			status: 401, code: "invalid_dpop_proof", reason: string(dpop.ReasonIATTooOld),
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "future proof iat",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				s, _ := dpop.NewSigner(f.cl.key, dpop.WithClock(func() time.Time { return testNow.Add(10 * time.Minute) }))
				p, _ := s.Proof("GET", apiURL, dpop.WithAccessToken(tok))
				return "GET", auth, []string{p}
			},
			status: 401, code: "invalid_dpop_proof", reason: string(dpop.ReasonIATInFuture),
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "proof with alg none",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				p := craft(t, map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": jwkMap(t, &f.cl.key.PublicKey)}, proofClaims(tok), "none", nil)
				return "GET", auth, []string{p}
			},
			status: 401, code: "invalid_dpop_proof", reason: string(dpop.ReasonBadAlgorithm),
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "HMAC-signed proof",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				p := craft(t, map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}, proofClaims(tok), "HS256", []byte("secret"))
				return "GET", auth, []string{p}
			},
			status: 401, code: "invalid_dpop_proof", reason: string(dpop.ReasonBadAlgorithm),
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "private key in the proof's jwk",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				p := craft(t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwkMap(t, f.cl.key)}, proofClaims(tok), "ES256", f.cl.key)
				return "GET", auth, []string{p}
			},
			status: 401, code: "invalid_dpop_proof", reason: string(dpop.ReasonPrivateKey),
			challenge: `DPoP error="invalid_dpop_proof"`,
		},
		{
			name: "access token with alg none",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok := craft(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": f.is.kid}, f.is.claims(f.cl.signer.Thumbprint()), "none", nil)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonBadTokenAlg,
			challenge: `DPoP error="invalid_token"`,
		},
		{
			name: "HMAC-signed access token (key confusion with the issuer's public key)",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				pub, _ := json.Marshal(jwkMap(t, &f.is.key.PublicKey))
				tok := craft(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": f.is.kid}, f.is.claims(f.cl.signer.Thumbprint()), "HS256", pub)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonBadTokenAlg,
			challenge: `DPoP error="invalid_token"`,
		},
		{
			name: "access token naming its own key (jku)",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				h := f.is.header()
				h["jku"] = "https://evil.example/jwks"
				tok := craft(t, h, f.is.claims(f.cl.signer.Thumbprint()), "ES256", f.is.key)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonForbiddenHeader,
		},
		{
			name: "access token with an embedded jwk of the attacker",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				evil, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				h := f.is.header()
				h["jwk"] = jwkMap(t, &evil.PublicKey)
				tok := craft(t, h, f.is.claims(f.cl.signer.Thumbprint()), "ES256", evil)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonForbiddenHeader,
		},
		{
			name: "access token with crit",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				h := f.is.header()
				h["crit"] = []string{"exp"}
				tok := craft(t, h, f.is.claims(f.cl.signer.Thumbprint()), "ES256", f.is.key)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonForbiddenHeader,
		},
		{
			name: "ID token or plain JWT (typ JWT) as access token",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				h := f.is.header()
				h["typ"] = "JWT"
				tok := craft(t, h, f.is.claims(f.cl.signer.Thumbprint()), "ES256", f.is.key)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonBadTokenType,
		},
		{
			name: "forged token (signed by another key with the issuer's kid)",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				evil, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				tok := craft(t, f.is.header(), f.is.claims(f.cl.signer.Thumbprint()), "ES256", evil)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonBadSignature,
			challenge: `DPoP error="invalid_token", error_description="access token signature does not verify"`,
		},
		{
			name: "DPoP-bound token sent as Bearer",
			req:  resource.Requirement{AllowBearer: true},
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, _ := dpopAuth(f)
				return "GET", "Bearer " + tok, nil
			},
			status: 401, code: "invalid_token", reason: resource.ReasonDPoPAsBearer,
			challenge: `Bearer error="invalid_token"`,
		},
		{
			name: "DPoP-bound token sent as Bearer on a DPoP-only route",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, _ := dpopAuth(f)
				return "GET", "Bearer " + tok, nil
			},
			status: 401, code: "invalid_token", reason: resource.ReasonDPoPAsBearer,
			challenge: `DPoP error="invalid_token"`,
		},
		{
			name: "unbound bearer token on a DPoP-only route",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				return "GET", "Bearer " + f.is.token(t, f.is.claims("")), nil
			},
			status: 401, code: "invalid_token", reason: resource.ReasonBearerNotAllowed,
			challenge: `DPoP error="invalid_token"`,
		},
		{
			name: "unbound bearer token on a route allowing bearer",
			req:  resource.Requirement{AllowBearer: true},
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				return "GET", "Bearer " + f.is.token(t, f.is.claims("")), nil
			},
			status: 200,
		},
		{
			name: "unbound token with the DPoP scheme",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok := f.is.token(t, f.is.claims(""))
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonTokenNotBound,
		},
		{
			name: "certificate-bound token without a client certificate",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				c := f.is.claims("")
				c["cnf"] = map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}
				return "GET", "Bearer " + f.is.token(t, c), nil
			},
			status: 401, code: "invalid_token", reason: resource.ReasonCertMissing,
		},
		{
			name: "token for another audience",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				c := f.is.claims(f.cl.signer.Thumbprint())
				c["aud"] = []string{"https://profiles.example"}
				tok := f.is.token(t, c)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonWrongAudience,
		},
		{
			name: "route with its own audience refuses the default audience",
			req:  resource.Requirement{Audience: "https://payments.example"},
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				return "GET", auth, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonWrongAudience,
		},
		{
			name: "token from another issuer",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				c := f.is.claims(f.cl.signer.Thumbprint())
				c["iss"] = "https://evil.example"
				tok := f.is.token(t, c)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonWrongIssuer,
		},
		{
			name: "missing scope",
			req:  resource.Requirement{Scopes: []string{"orders:write"}},
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				return "GET", auth, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 403, code: "insufficient_scope", reason: resource.ReasonInsufficientScope,
			challenge: `DPoP error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="orders:write"`,
		},
		{
			name: "expired token",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				c := f.is.claims(f.cl.signer.Thumbprint())
				c["exp"] = testNow.Add(-time.Minute).Unix()
				tok := f.is.token(t, c)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonExpired,
			challenge: `DPoP error="invalid_token", error_description="access token has expired"`,
		},
		{
			name: "token not yet valid",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				c := f.is.claims(f.cl.signer.Thumbprint())
				c["nbf"] = testNow.Add(time.Minute).Unix()
				tok := f.is.token(t, c)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonNotYetValid,
		},
		{
			name: "token without client_id",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				c := f.is.claims(f.cl.signer.Thumbprint())
				delete(c, "client_id")
				tok := f.is.token(t, c)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonMissingClaim,
		},
		{
			name: "unknown kid",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				h := f.is.header()
				h["kid"] = "nope"
				tok := craft(t, h, f.is.claims(f.cl.signer.Thumbprint()), "ES256", f.is.key)
				return "GET", "DPoP " + tok, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonUnknownKID,
		},
		{
			name: "opaque token without introspection",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				return "GET", "DPoP opaque-token", []string{f.cl.proof(t, "GET", apiURL, "opaque-token")}
			},
			status: 401, code: "invalid_token", reason: resource.ReasonMalformedToken,
		},
		{
			name: "token in the query string",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				return "GET", "", nil
			},
			status: 400, code: "invalid_request", reason: resource.ReasonTokenInQuery,
		},
		{
			name: "Basic scheme",
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				return "GET", "Basic YTpi", nil
			},
			status: 401, reason: resource.ReasonUnsupportedScheme,
		},
		{
			name: "nonce required",
			fixtureMod: func(c *resource.Config, o *[]dpop.VerifierOption) {
				n, _ := dpop.NewStatelessNonces(audience, time.Minute, make([]byte, 32))
				*o = append(*o, dpop.WithNonces(n))
			},
			setup: func(t *testing.T, f *fixture) (string, string, []string) {
				tok, auth := dpopAuth(f)
				return "GET", auth, []string{f.cl.proof(t, "GET", apiURL, tok)}
			},
			status: 401, code: "use_dpop_nonce", reason: string(dpop.ReasonNonceMissing), nonce: true,
			challenge: `DPoP error="use_dpop_nonce"`,
		},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			f := newFixture(t, a.fixtureMod)
			method, auth, proofs := a.setup(t, f)
			target := apiURL
			if a.reason == resource.ReasonTokenInQuery {
				target += "?access_token=x"
			}
			w := f.do(a.req, method, target, auth, proofs...)
			if w.Code != a.status {
				t.Fatalf("status %d, want %d; body %s; challenge %q", w.Code, a.status, w.Body, w.Header().Values("WWW-Authenticate"))
			}
			if a.status == 200 {
				if len(f.rejected) != 0 {
					t.Errorf("rejections %v on success", f.rejected)
				}
				return
			}
			var body struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if body.Error != a.code {
				t.Errorf("error %q, want %q (body %s)", body.Error, a.code, w.Body)
			}
			if got := f.rejected[len(f.rejected)-1]; got != a.reason {
				t.Errorf("reason %q, want %q", got, a.reason)
			}
			ch := strings.Join(w.Header().Values("WWW-Authenticate"), " | ")
			if ch == "" {
				t.Errorf("no WWW-Authenticate")
			}
			if !strings.Contains(ch, `algs="ES256 EdDSA"`) {
				t.Errorf("challenge %q lacks algs", ch)
			}
			if a.code != "" && a.status < 500 && !strings.Contains(ch, fmt.Sprintf(`error=%q`, a.code)) {
				t.Errorf("challenge %q lacks error %q", ch, a.code)
			}
			if a.code == "" && strings.Contains(ch, "error=") {
				t.Errorf("challenge %q has an error code for a request without credentials", ch)
			}
			if a.challenge != "" && !strings.Contains(ch, a.challenge) {
				t.Errorf("challenge %q\nlacks      %q", ch, a.challenge)
			}
			if got := w.Header().Get("DPoP-Nonce") != ""; got != a.nonce {
				t.Errorf("DPoP-Nonce present %v, want %v", got, a.nonce)
			}
			if auth != "" {
				tok := strings.TrimPrefix(strings.TrimPrefix(auth, "DPoP "), "Bearer ")
				if strings.Contains(w.Body.String(), tok) || strings.Contains(ch, tok) {
					t.Errorf("response echoes the token")
				}
			}
		})
	}
}

func proofClaims(tok string) map[string]any {
	return map[string]any{"jti": rand.Text(), "htm": "GET", "htu": apiURL, "iat": testNow.Unix(), "ath": dpop.ATH(tok)}
}

var _ = ed25519.PublicKey(nil)
