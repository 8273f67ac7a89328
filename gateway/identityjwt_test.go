package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/gateway"
)

// TestIdentityJWT: with identity_jwt on, the upstream receives the verified
// identity as a JWT it can check with the JWKS on the admin listener; a
// client's own copy of the header never reaches it.
func TestIdentityJWT(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "id.pem")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(g *config.Gateway) {
		g.IdentityJWT = config.IdentityJWT{Header: "X-Ward-Identity", TTL: 30 * time.Second, KeyFile: keyFile}
	})
	forged := map[string]string{"X-Ward-Identity": "eyJhbGciOiJub25lIn0.e30."}
	if w := e.call("GET", "/orders/42", e.token(nil), forged); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	h := e.upstreamSaw()
	vals := h.Values("X-Ward-Identity")
	if len(vals) != 1 || vals[0] == forged["X-Ward-Identity"] {
		t.Fatalf("identity header %q", vals)
	}

	w := httptest.NewRecorder()
	e.gw.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", gateway.IdentityJWKSPath, nil))
	var set jose.JSONWebKeySet
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &set) != nil || len(set.Keys) != 1 || !set.Keys[0].IsPublic() {
		t.Fatalf("JWKS: %d %s", w.Code, w.Body)
	}
	if !set.Keys[0].Key.(*ecdsa.PublicKey).Equal(&k.PublicKey) {
		t.Fatal("the JWKS does not hold the configured key")
	}
	tok, err := jwt.ParseSigned(vals[0], []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := tok.Headers[0].ExtraHeaders["typ"].(string); typ != gateway.IdentityJWTType || tok.Headers[0].KeyID != set.Keys[0].KeyID {
		t.Fatalf("header %+v", tok.Headers[0])
	}
	var c gateway.IdentityClaims
	if err := tok.Claims(set.Keys[0].Key, &c); err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: publicURL, AnyAudience: jwt.Audience{e.upstream.URL}, Time: testNow}, 0); err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.ClientID != "app" || c.Scope != "orders:read" || c.Cnf["jkt"] != e.signer.Thumbprint() ||
		c.Route != "orders" || c.Expiry.Time().Sub(testNow) != 30*time.Second || c.ID == "" || c.TokenIssuer != issuerURL {
		t.Fatalf("claims %+v", c)
	}
}

func TestIdentityJWTKeyFileErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not pem"), 0o600)
	for _, f := range []string{bad, filepath.Join(t.TempDir(), "missing.pem")} {
		cfg := config.DefaultGateway()
		cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, issuerURL, publicURL
		cfg.IdentityJWT = config.IdentityJWT{Header: "X-Ward-Identity", KeyFile: f}
		if _, err := gateway.New(&cfg, gateway.Options{}); !errors.Is(err, gateway.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", f, err)
		}
	}
}
