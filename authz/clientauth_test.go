package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

var update = flag.Bool("update", false, "rewrite golden files")

func (h *harness) assertion(key any, alg jose.SignatureAlgorithm, kid string, c jwt.Claims) string {
	h.t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// TestClientAuthentication: client_secret_basic, client_secret_post,
// private_key_jwt (RFC 7523 §3) and none, each only for the client that
// registered it.
func TestClientAuthentication(t *testing.T) {
	h := newHarness(t, withoutAuthBackoff()) // 17 failures from one address
	s := h.newSigner()
	now := h.clk.Now()
	good := func() jwt.Claims {
		return jwt.Claims{Issuer: "jwt", Subject: "jwt", Audience: jwt.Audience{h.issuer}, Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: randomToken(8)}
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cc := url.Values{"grant_type": {"client_credentials"}}
	form := func(kv ...string) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	jwtForm := func(a string) url.Values {
		return form("client_assertion_type", assertionType, "client_assertion", a)
	}
	replayed := h.assertion(h.jwtKey, jose.ES256, "k1", good())
	tests := []struct {
		name   string
		form   url.Values
		hdr    []string
		status int
		code   string
	}{
		{"basic", cc, h.basic("web"), 200, ""},
		{"basic wrong secret", cc, []string{"Authorization", "Basic d2ViOndyb25n"}, 401, "invalid_client"},
		{"basic unknown client", cc, []string{"Authorization", "Basic bm9ib2R5Ong="}, 401, "invalid_client"},
		{"basic client via post", form("client_id", "web", "client_secret", h.secrets["web"]), nil, 401, "invalid_client"},
		{"post", form("client_id", "post", "client_secret", h.secrets["post"]), nil, 200, ""},
		{"post client via basic", cc, h.basic("post"), 401, "invalid_client"},
		{"two methods", form("client_id", "web", "client_secret", h.secrets["web"]), h.basic("web"), 400, "invalid_request"},
		{"confidential without secret", form("client_id", "web"), nil, 401, "invalid_client"},
		{"no client", cc, nil, 401, "invalid_client"},
		{"bearer header", cc, []string{"Authorization", "Bearer x"}, 401, "invalid_client"},
		{"private_key_jwt", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", good())), nil, 200, ""},
		{"private_key_jwt token endpoint aud", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", func() jwt.Claims { c := good(); c.Audience = jwt.Audience{h.issuer + PathToken}; return c }())), nil, 200, ""},
		{"private_key_jwt no kid", jwtForm(h.assertion(h.jwtKey, jose.ES256, "", good())), nil, 200, ""},
		{"private_key_jwt first use", jwtForm(replayed), nil, 200, ""},
		{"private_key_jwt replayed jti", jwtForm(replayed), nil, 401, "invalid_client"},
		{"private_key_jwt other key", jwtForm(h.assertion(other, jose.ES256, "k1", good())), nil, 401, "invalid_client"},
		{"private_key_jwt HS256", jwtForm(h.assertion([]byte("0123456789abcdef0123456789abcdef"), jose.HS256, "k1", good())), nil, 401, "invalid_client"},
		{"private_key_jwt wrong aud", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", func() jwt.Claims { c := good(); c.Audience = jwt.Audience{"https://other"}; return c }())), nil, 401, "invalid_client"},
		{"private_key_jwt no exp", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", func() jwt.Claims { c := good(); c.Expiry = nil; return c }())), nil, 401, "invalid_client"},
		{"private_key_jwt expired", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", func() jwt.Claims { c := good(); c.Expiry = jwt.NewNumericDate(now.Add(-time.Second)); return c }())), nil, 401, "invalid_client"},
		{"private_key_jwt exp too far", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", func() jwt.Claims { c := good(); c.Expiry = jwt.NewNumericDate(now.Add(time.Hour)); return c }())), nil, 401, "invalid_client"},
		{"private_key_jwt no jti", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", func() jwt.Claims { c := good(); c.ID = ""; return c }())), nil, 401, "invalid_client"},
		{"private_key_jwt sub mismatch", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", func() jwt.Claims { c := good(); c.Subject = "web"; return c }())), nil, 401, "invalid_client"},
		{"private_key_jwt wrong type", form("client_assertion_type", "urn:x", "client_assertion", h.assertion(h.jwtKey, jose.ES256, "k1", good())), nil, 401, "invalid_client"},
		{"private_key_jwt for secret client", jwtForm(h.assertion(h.jwtKey, jose.ES256, "k1", func() jwt.Claims { c := good(); c.Issuer, c.Subject = "web", "web"; return c }())), nil, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(PathToken, tt.form, append(tt.hdr, "DPoP", h.proof(s))...)
			if tt.status == 200 {
				wantToken(t, r)
				return
			}
			wantError(t, r, tt.status, tt.code)
			if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func normaliseIssuer(m map[string]any, issuer string) map[string]any {
	for k, v := range m {
		if s, ok := v.(string); ok && len(s) >= len(issuer) && s[:len(issuer)] == issuer {
			m[k] = "https://issuer.example" + s[len(issuer):]
		}
	}
	return m
}

func mustReq(t *testing.T, u string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
