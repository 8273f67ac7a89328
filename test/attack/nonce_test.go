package attack

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// nonceTTL is the nonce lifetime of the nonce-requiring ward: a nonce
// lives between ttl/2 and ttl (authz: stateless nonces with step ttl/2).
const nonceTTL = 2 * time.Second

// TestDPoPNonceAttacks runs a `ward serve` whose token endpoint requires
// server-provided DPoP nonces (dpop.nonce.enabled, RFC 9449 §8) and
// sends proofs without a nonce, with a stale one, with one sealed by
// another server's secret or for another issuer, with a forged one, and
// with iat outside the window both ways. Each is refused without a token;
// a nonce refusal is 400 use_dpop_nonce with a fresh DPoP-Nonce header.
func TestDPoPNonceAttacks(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "ward attack nonce CA")
	certFile, keyFile := ca.Issue(t, mtlstest.Options{CommonName: "127.0.0.1", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true}).WriteFiles(t, dir, "server")
	addr := wardtest.FreeAddr(t)
	issuer := "https://" + addr
	secret := make([]byte, 32)
	copy(secret, wardtest.RandKey())
	cfg := fmt.Sprintf(`issuer: %[1]s
listen: %[2]s
tls: {cert_file: %[3]s, key_file: %[4]s}
data_dir: %[5]s
store: {driver: sqlite}
dpop: {nonce: {enabled: true, ttl: %[6]s}}
clients:
  - id: %[7]s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [https://api.example]
`, issuer, addr, certFile, keyFile, dir, nonceTTL, svcClient)
	cfgPath := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	p := wardtest.Start(t, ward.bin, []string{
		"WARD_FLOW_KEY=" + wardtest.RandKey(),
		"WARD_KEY_ENCRYPTION_KEY=" + wardtest.RandKey(),
		"WARD_DPOP_NONCE_SECRET=" + base64.StdEncoding.EncodeToString(secret),
		"WARD_TEST_SVC_SECRET=" + svcSecret,
	}, "serve", "--config", cfgPath)
	p.WaitReady(t, hc, issuer+"/.well-known/oauth-authorization-server")

	// token sends a client_credentials request with a proof of sg
	// carrying nonce (none when empty).
	token := func(t *testing.T, sg *dpop.Signer, nonce string) *response {
		t.Helper()
		var opts []dpop.ProofOption
		if nonce != "" {
			opts = append(opts, dpop.WithNonce(nonce))
		}
		pr, err := sg.Proof(http.MethodPost, issuer+"/token", opts...)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"demo:read"}}
		req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", pr)
		req.SetBasicAuth(svcClient, svcSecret)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return readResponse(resp)
	}
	// wantNonceRefusal: 400 use_dpop_nonce, no token, and a fresh nonce
	// other than the one refused.
	wantNonceRefusal := func(t *testing.T, r *response, refused string) string {
		t.Helper()
		wantTokenError(t, r, http.StatusBadRequest, "use_dpop_nonce")
		n := r.header.Get("DPoP-Nonce")
		if n == "" || n == refused {
			t.Errorf("DPoP-Nonce %q: want a fresh nonce", n)
		}
		return n
	}
	sg, err := newSigner(time.Now())
	if err != nil {
		t.Fatal(err)
	}

	var fresh string
	t.Run("proof without a nonce", func(t *testing.T) {
		fresh = wantNonceRefusal(t, token(t, sg, ""), "")
	})
	t.Run("control: the nonce the server gave is accepted", func(t *testing.T) {
		r := token(t, sg, fresh)
		if r.status != http.StatusOK || r.str("access_token") == "" {
			t.Fatalf("got %d %q, want 200 with a token", r.status, r.str("error"))
		}
	})
	// mint makes nonces the way a server with that issuer and secret does;
	// the control shows that the two refusals below are for the secret
	// and the issuer, not for the format.
	mint := func(t *testing.T, iss string, key []byte) string {
		t.Helper()
		src, err := dpop.NewStatelessNonces(iss, nonceTTL/2, key)
		if err != nil {
			t.Fatal(err)
		}
		n, err := src.Nonce(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Run("control: a nonce minted with this server's issuer and secret is accepted", func(t *testing.T) {
		if r := token(t, sg, mint(t, issuer, secret)); r.status != http.StatusOK {
			t.Fatalf("got %d %q, want 200", r.status, r.str("error"))
		}
	})
	t.Run("nonce sealed by another server's secret", func(t *testing.T) {
		n := mint(t, issuer, []byte("another server's nonce secret, 32 bytes"))
		wantNonceRefusal(t, token(t, sg, n), n)
	})
	t.Run("nonce of another issuer sealed with the same secret", func(t *testing.T) {
		n := mint(t, "https://other.example", secret)
		wantNonceRefusal(t, token(t, sg, n), n)
	})
	t.Run("forged nonce", func(t *testing.T) {
		wantNonceRefusal(t, token(t, sg, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "")
	})
	t.Run("proof iat too old, with a valid nonce", func(t *testing.T) {
		old, err := newSigner(time.Now().Add(-2 * time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		wantTokenError(t, token(t, old, wantNonceRefusal(t, token(t, sg, ""), "")), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("proof iat in the future, with a valid nonce", func(t *testing.T) {
		ahead, err := newSigner(time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		wantTokenError(t, token(t, ahead, wantNonceRefusal(t, token(t, sg, ""), "")), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("stale nonce", func(t *testing.T) {
		n := wantNonceRefusal(t, token(t, sg, ""), "")
		time.Sleep(nonceTTL + 100*time.Millisecond) // past the step it was issued in and the next
		wantNonceRefusal(t, token(t, sg, n), n)
	})
}
