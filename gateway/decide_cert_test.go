package gateway_test

import (
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// TestDecideIgnoresClientCertHeader: a request handed to Decide is the
// client's (ext_authz, forward auth), so a forwarded-certificate header in
// it is the client's own, even when the client's address is one of
// behind_tls_proxy.trusted_proxies: believing it would let anyone holding
// a copy of a certificate (certificates are public) pass for its owner on
// a certificate-only route. The header is also listed for removal.
func TestDecideIgnoresClientCertHeader(t *testing.T) {
	m := newMTLSEnv(t, false, func(g *config.Gateway) {
		g.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		g.MTLS.ForwardedCertHeader = "X-Client-Cert"
	})
	victim := m.ca.Issue(t, mtlstest.Options{URIs: []string{orderService}, ClientOnly: true})
	r := httptest.NewRequest("POST", publicURL+"/api/v1/charges", nil)
	r.RemoteAddr = "10.1.2.3:4444" // an internal client, inside the proxies' network
	r.Header.Set("X-Client-Cert", victim.Escaped())
	d := m.gw.Decide(r)
	if d.Allowed || d.Status != 401 {
		t.Fatalf("a certificate in the client's own header was believed: %d %+v", d.Status, d.Identity)
	}
	if !slices.Contains(d.Remove, "X-Client-Cert") {
		t.Errorf("Remove %v: the client's header would reach the upstream", d.Remove)
	}
	// The same request on the gateway's own listener comes from a
	// trusted proxy, which vouches for the certificate.
	w := httptest.NewRecorder()
	r = httptest.NewRequest("POST", publicURL+"/api/v1/charges", nil)
	r.RemoteAddr = "10.1.2.3:4444"
	r.Header.Set("X-Client-Cert", victim.Escaped())
	m.gw.Handler().ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("listener, from the trusted proxy: %d %s", w.Code, w.Body)
	}
}
