package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// TestCertificateBinding: with WithCertificateBinding the token request
// goes to the metadata's mtls_endpoint_aliases token endpoint (RFC 8705
// §5), over TLS presenting the client certificate of TLSConfig, without a
// DPoP proof, authenticated by client_id alone; the answer must be
// token_type Bearer (ErrNotCertificateBound otherwise).
func TestCertificateBinding(t *testing.T) {
	ca := mtlstest.NewCA(t)
	dir := t.TempDir()
	caFile := ca.WriteFile(t, dir)
	srv := ca.Issue(t, mtlstest.Options{CommonName: "as", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true})
	cf, kf := srv.WriteFiles(t, dir, "as")
	sc, err := mtls.NewServerConfig(cf, kf, []string{caFile})
	if err != nil {
		t.Fatal(err)
	}
	cl := ca.Issue(t, mtlstest.Options{CommonName: "svc", ClientOnly: true})
	certFile, keyFile := cl.WriteFiles(t, dir, "svc")

	tokenType := "Bearer"
	var seen struct{ path, dpop, clientID, thumb string }
	as := httptest.NewUnstartedServer(nil)
	as.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/oauth-authorization-server" {
			base := "https://" + r.Host
			json.NewEncoder(w).Encode(map[string]any{"issuer": base, "token_endpoint": base + "/token",
				"mtls_endpoint_aliases": map[string]string{"token_endpoint": base + "/mtls/token"}})
			return
		}
		_ = r.ParseForm()
		seen.path, seen.dpop, seen.clientID = r.URL.Path, r.Header.Get("DPoP"), r.PostForm.Get("client_id")
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			seen.thumb = mtls.Thumbprint(r.TLS.PeerCertificates[0])
		}
		fmt.Fprintf(w, `{"access_token":"at","token_type":%q,"expires_in":60}`, tokenType)
	})
	as.TLS = sc.TLSConfig()
	as.StartTLS()
	defer as.Close()

	tc, err := TLSConfig(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	c, err := Discover(context.Background(), as.URL, "svc", WithHTTPClient(hc), WithCertificateBinding())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.ClientCredentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || seen.path != "/mtls/token" || seen.dpop != "" || seen.clientID != "svc" || seen.thumb != mtls.Thumbprint(cl.Cert) {
		t.Fatalf("token %+v, request %+v", tok, seen)
	}
	tokenType = "DPoP"
	if _, err := c.ClientCredentials(context.Background()); !errors.Is(err, ErrNotCertificateBound) {
		t.Fatalf("a DPoP token_type: %v", err)
	}
	if _, err := TLSConfig(certFile, "", ""); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
	if _, err := TLSConfig("", "", filepath.Join(dir, "as-key.pem")); err == nil {
		t.Fatal("a CA file without a certificate was accepted")
	}
}
