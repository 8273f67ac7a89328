package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// TestCertificateBoundTokenAndCurl: ward token --cert --key --cacert
// fetches a certificate-bound token (RFC 8705) from an authorization
// server on a real TLS listener that authenticates the client by its
// certificate (tls_client_auth, no secret), and ward curl with the same
// flags sends it as Bearer over a TLS connection presenting that
// certificate, to an API that compares the token's cnf.x5t#S256 with the
// certificate of the connection. Without the certificate the token
// endpoint refuses the client.
func TestCertificateBoundTokenAndCurl(t *testing.T) {
	const workload = "spiffe://test/ns/shop/sa/orders"
	ca := mtlstest.NewCA(t)
	dir := t.TempDir()
	caFile := ca.WriteFile(t, dir)
	srvCert := ca.Issue(t, mtlstest.Options{CommonName: "as", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true})
	cf, kf := srvCert.WriteFiles(t, dir, "server")
	sc, err := mtls.NewServerConfig(cf, kf, []string{caFile})
	if err != nil {
		t.Fatal(err)
	}
	as := authztest.New(t, authztest.Options{
		Clients: []store.Client{{ID: "orders", AuthMethod: oauth.AuthTLSClient, SenderConstraint: store.ConstraintMTLS,
			JWKS: authz.TLSClientAuthJWKS(authz.TLSClientAuth{SANURI: workload}), GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
			Scopes: []string{"orders.read"}, Audiences: []string{"https://api.example"}}},
		TLS:  sc.TLSConfig(),
		MTLS: &mtls.TrustedProxy{Roots: sc},
	})
	clientCert := ca.Issue(t, mtlstest.Options{CommonName: "orders", URIs: []string{workload}, ClientOnly: true})
	certFile, keyFile := clientCert.WriteFiles(t, dir, "orders")
	tls := []string{"--cert", certFile, "--key", keyFile, "--cacert", caFile}

	code, out, errs := runCLI(t, append([]string{"token", "--issuer", as.URL, "--client-id", "orders", "--json"}, tls...)...)
	if code != 0 {
		t.Fatalf("ward token --cert: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, `"token_type": "Bearer"`) || strings.Contains(out, `"jkt"`) {
		t.Fatalf("token response %s", out)
	}
	code, out, errs = runCLI(t, append([]string{"token", "--issuer", as.URL, "--client-id", "orders"}, tls...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	tok := strings.TrimSpace(out)
	cnf, _ := claimsOf(t, tok)["cnf"].(map[string]any)
	x5t := mtls.Thumbprint(clientCert.Cert)
	if cnf["x5t#S256"] != x5t || cnf["jkt"] != nil {
		t.Fatalf("cnf %v, want x5t#S256 %s only", cnf, x5t)
	}
	// ward decode shows the binding and passes it.
	if code, out, _ := runCLI(t, "decode", tok); code != 0 || !strings.Contains(out, "certificate-bound (mTLS, RFC 8705 §3): cnf.x5t#S256 "+x5t) {
		t.Fatalf("decode: exit %d\n%s", code, out)
	}
	// Without the certificate: no client authentication at all.
	if code, _, errs := runCLI(t, "token", "--issuer", as.URL, "--client-id", "orders", "--cacert", caFile, "--client-secret", "x"); code != 1 || !strings.Contains(errs, "invalid_client") {
		t.Fatalf("without --cert: exit %d %s", code, errs)
	}

	api := certBoundAPI(t, sc.TLSConfig())
	code, out, errs = runCLI(t, append([]string{"curl", "--issuer", as.URL, "--client-id", "orders", api.URL + "/orders"}, tls...)...)
	if code != 0 || out != "bearer token bound to this connection's certificate: /orders" {
		t.Fatalf("ward curl --cert: exit %d, out %q, err %s", code, out, errs)
	}
	code, out, errs = runCLI(t, append([]string{"curl", "--token", tok, api.URL + "/x"}, tls...)...)
	if code != 0 || !strings.HasSuffix(out, ": /x") {
		t.Fatalf("ward curl --token --cert: exit %d, out %q, err %s", code, out, errs)
	}
}

// certBoundAPI is an https API that accepts a Bearer token only when its
// cnf.x5t#S256 is the thumbprint of the connection's client certificate
// (RFC 8705 §3); the signature is not checked here.
func certBoundAPI(t *testing.T, tc *tls.Config) *httptest.Server {
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if scheme != "Bearer" || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.Header.Get("DPoP") != "" {
			http.Error(w, "want Bearer over mTLS without DPoP", http.StatusUnauthorized)
			return
		}
		cnf, _ := claimsOf(t, tok)["cnf"].(map[string]any)
		if cnf["x5t#S256"] != mtls.Thumbprint(r.TLS.PeerCertificates[0]) {
			http.Error(w, "cert_mismatch", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "bearer token bound to this connection's certificate: %s", r.URL.Path)
	}))
	api.TLS = tc
	api.StartTLS()
	t.Cleanup(api.Close)
	return api
}
