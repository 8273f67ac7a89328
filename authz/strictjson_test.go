package authz

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawAssertion signs a header and claims given as JSON text with ES256,
// so a test can send duplicate and case-variant member names.
func rawAssertion(t testing.TB, key *ecdsa.PrivateKey, hdr, claims string) string {
	t.Helper()
	in := base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestClientAssertionAmbiguousJSON: JSON member names are case-sensitive
// and unique (RFC 8259 §4, RFC 7515 §4). go-jose reads names exactly and
// refuses duplicates in the objects it decodes; an assertion that another
// reader would read differently (a case variant beside the real member, a
// duplicate nested in a claim go-jose skips) is refused as well.
func TestClientAssertionAmbiguousJSON(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	now := h.clk.Now()
	hdr := `{"alg":"ES256","kid":"k1","typ":"JWT"}`
	claims := func(jti string) string {
		b, _ := json.Marshal(map[string]any{"iss": "jwt", "sub": "jwt", "aud": h.issuer, "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": jti})
		return string(b)
	}
	send := func(t *testing.T, hdr, claims string) *response {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {rawAssertion(t, h.jwtKey, hdr, claims)}}
		return h.post(PathToken, form, "DPoP", h.proof(s))
	}
	for _, c := range []struct {
		name string
		edit func(hdr, claims string) (string, string)
	}{
		{"uppercase_TYP_and_typ", func(h, c string) (string, string) { return strings.Replace(h, `{`, `{"TYP":"dpop+jwt",`, 1), c }},
		{"duplicate_typ", func(h, c string) (string, string) { return strings.Replace(h, `{`, `{"typ":"at+jwt",`, 1), c }},
		{"duplicate_alg", func(h, c string) (string, string) { return strings.Replace(h, `{`, `{"alg":"HS256",`, 1), c }},
		{"duplicate_kid", func(h, c string) (string, string) { return strings.Replace(h, `{`, `{"kid":"k0",`, 1), c }},
		{"uppercase_AUD_and_aud", func(h, c string) (string, string) {
			return h, strings.Replace(c, `{`, `{"AUD":"https://other.example",`, 1)
		}},
		{"uppercase_ISS_and_iss", func(h, c string) (string, string) { return h, strings.Replace(c, `{`, `{"ISS":"web",`, 1) }},
		{"duplicate_aud", func(h, c string) (string, string) {
			return h, strings.Replace(c, `{`, `{"aud":"https://other.example",`, 1)
		}},
		{"duplicate_iss", func(h, c string) (string, string) { return h, strings.Replace(c, `{`, `{"iss":"web",`, 1) }},
		{"nested_duplicate_in_cnf", func(h, c string) (string, string) {
			return h, strings.Replace(c, `{`, `{"cnf":{"jkt":"a","jkt":"b"},`, 1)
		}},
		{"nested_duplicate_in_unknown_claim", func(h, c string) (string, string) { return h, strings.Replace(c, `{`, `{"ext":{"a":1,"a":2},`, 1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The untouched assertion authenticates: the refusal is the edit's.
			wantToken(t, send(t, hdr, claims("ok-"+c.name)))
			eh, ec := c.edit(hdr, claims("x-"+c.name))
			r := send(t, eh, ec)
			wantError(t, r, 401, "invalid_client")
		})
	}
}

// TestIntrospectAmbiguousJWT: an access token of this server whose claims
// another reader would read differently (a case variant beside a claim, a
// duplicate nested where go-jose does not look) is not active.
func TestIntrospectAmbiguousJWT(t *testing.T) {
	h := newHarness(t)
	now := h.clk.Now()
	k, err := h.s.km.Signer(now)
	if err != nil {
		t.Fatal(err)
	}
	claims := func() string {
		b, _ := json.Marshal(&atClaims{Issuer: h.issuer, Subject: "alice", Audience: audience{"https://rs.example"}, ClientID: "web", // introspected by web, its own client
			Scope: "read", JTI: randomToken(16), IssuedAt: now.Unix(), Expiry: now.Add(time.Minute).Unix()})
		return string(b)
	}
	for _, c := range []struct{ name, from, to string }{
		{"uppercase_SUB_and_sub", `{`, `{"SUB":"mallory",`},
		{"uppercase_ISS_and_iss", `{`, `{"ISS":"https://evil.example",`},
		{"nested_duplicate_in_unknown_claim", `{`, `{"ext":{"a":1,"a":2},`},
	} {
		t.Run(c.name, func(t *testing.T) {
			good, err := signJWT(k, "at+jwt", json.RawMessage(claims()))
			if err != nil {
				t.Fatal(err)
			}
			if r := h.introspect(good); r.json["active"] != true {
				t.Fatalf("control token: %s", r.body)
			}
			bad, err := signJWT(k, "at+jwt", json.RawMessage(strings.Replace(claims(), c.from, c.to, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if r := h.introspect(bad); r.json["active"] != false {
				t.Fatalf("ambiguous token introspected as %s", r.body)
			}
		})
	}
}
