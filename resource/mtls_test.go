package resource_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/resource"
)

// RFC 8705 §3 over a real TLS connection, with the default certificate
// source (the handshake's).
func TestCertificateBoundTokenOverTLS(t *testing.T) {
	f := newFixture(t, nil)
	ca := mtlstest.NewCA(t)
	workload := ca.Issue(t, mtlstest.Options{URIs: []string{"spiffe://prod/ns/payments/sa/order-service"}, ClientOnly: true})
	other := ca.Issue(t, mtlstest.Options{ClientOnly: true})
	srv := httptest.NewUnstartedServer(f.rs.Middleware(resource.Requirement{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := resource.IdentityFrom(r.Context())
		_, _ = io.WriteString(w, id.SPIFFEID+" "+id.CertThumbprint+" "+id.X5TS256)
	})))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	c := f.is.claims("")
	c["cnf"] = map[string]any{"x5t#S256": mtls.Thumbprint(workload.Cert)}
	tok := f.is.token(t, c)
	call := func(cert *mtlstest.Cert) (int, string) {
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: mtlstest.ClientTLSConfig(cert, roots)}}
		r, _ := http.NewRequest("GET", srv.URL+"/orders", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := cl.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	th := mtls.Thumbprint(workload.Cert)
	if code, body := call(workload); code != 200 || body != "spiffe://prod/ns/payments/sa/order-service "+th+" "+th {
		t.Fatalf("right certificate: %d %q", code, body)
	}
	f.rejected = nil
	if code, _ := call(other); code != 401 {
		t.Fatalf("another certificate: %d", code)
	}
	if code, _ := call(nil); code != 401 {
		t.Fatalf("no certificate: %d", code)
	}
	if len(f.rejected) != 2 || f.rejected[0] != resource.ReasonCertMismatch || f.rejected[1] != resource.ReasonCertMissing {
		t.Errorf("reasons %q", f.rejected)
	}
}
