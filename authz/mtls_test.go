package authz

import (
	"context"
	"encoding/json"
	"github.com/wardauth/ward/oauth"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/store"
)

const workloadID = "spiffe://test/ns/pay/sa/orders"

// mtlsEnv is the harness plus a second Server on the same store with
// Options.MTLS, served by an mTLS listener (mtls.ServerConfig accepting
// unverified certificates, as self_signed_tls_client_auth needs), like
// mtls.listen / mtls_endpoint_aliases in production.
type mtlsEnv struct {
	h      *harness
	ca     *mtlstest.CA
	s      *Server
	url    string
	self   *mtlstest.Cert // registered for "selfc"
	server *mtlstest.Cert
}

func newMTLSEnv(t *testing.T, opts ...harnessOpt) *mtlsEnv {
	t.Helper()
	e := &mtlsEnv{ca: mtlstest.NewCA(t)}
	srvTLS := httptest.NewUnstartedServer(http.NotFoundHandler())
	base := "https://" + srvTLS.Listener.Addr().String()
	e.h = newHarness(t, append([]harnessOpt{func(c *config.Config) { c.MTLS.EndpointBaseURL = base }}, opts...)...)
	e.self = mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "self"})
	e.seed(t)

	dir := t.TempDir()
	e.server = e.ca.Issue(t, mtlstest.Options{CommonName: "as", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true})
	cf, kf := e.server.WriteFiles(t, dir, "as")
	sc, err := mtls.NewServerConfig(cf, kf, []string{e.ca.WriteFile(t, dir)}, mtls.AllowUnverifiedClientCerts())
	if err != nil {
		t.Fatal(err)
	}
	e.s = e.newServer(&mtls.TrustedProxy{Roots: sc})
	srvTLS.Config.Handler = e.s.Handler()
	srvTLS.TLS = sc.TLSConfig()
	srvTLS.StartTLS()
	t.Cleanup(srvTLS.Close)
	e.url = base
	return e
}

func (e *mtlsEnv) newServer(p *mtls.TrustedProxy) *Server {
	h := e.h
	km, err := keys.New(h.st, []keys.KEK{h.kek}, keys.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := km.EnsureKey(context.Background(), h.clk.Now()); err != nil {
		h.t.Fatal(err)
	}
	s, err := New(h.cfg, Options{Store: h.st, Keys: km, Logger: slog.New(slog.NewTextHandler(h.log, nil)), Now: h.clk.Now, MTLS: p})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (e *mtlsEnv) seed(t *testing.T) {
	ctx := context.Background()
	mk := func(c store.Client) {
		t.Helper()
		c.Scopes = []string{"read", "write"}
		c.Audiences = []string{testAPI}
		if c.GrantTypes == nil {
			c.GrantTypes = []oauth.GrantType{oauth.GrantClientCredentials}
		}
		if _, err := CreateClient(ctx, e.h.st, &c, e.h.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	mk(store.Client{ID: "tlsc", AuthMethod: oauth.AuthTLSClient, SenderConstraint: store.ConstraintMTLS,
		JWKS: TLSClientAuthJWKS(TLSClientAuth{SANURI: workloadID})})
	mk(store.Client{ID: "tlsdn", AuthMethod: oauth.AuthTLSClient, SenderConstraint: store.ConstraintMTLS,
		JWKS: TLSClientAuthJWKS(TLSClientAuth{SubjectDN: "CN=dn-client,O=Ward Test"})})
	mk(store.Client{ID: "tlsbearer", AuthMethod: oauth.AuthTLSClient, SenderConstraint: store.ConstraintBearer,
		JWKS: TLSClientAuthJWKS(TLSClientAuth{SANDNS: "svc.example"})})
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: e.self.Key.Public(), KeyID: "self", Use: "sig"}}})
	mk(store.Client{ID: "selfc", AuthMethod: oauth.AuthSelfSignedTLSClient, SenderConstraint: store.ConstraintMTLS, JWKS: set})
	mk(store.Client{ID: "pubm", AuthMethod: oauth.AuthNone, SenderConstraint: store.ConstraintDPoPOrMTLS,
		RedirectURIs: []string{spaRedirect}, GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}})
}

// post sends a form to base+path presenting cert (nil: none).
func (e *mtlsEnv) post(base string, cert *mtlstest.Cert, path string, form url.Values, hdr ...string) *response {
	e.h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: mtlstest.ClientTLSConfig(cert, e.ca.Pool())}, Timeout: 10 * time.Second}
	return e.h.do(c, req)
}

func cc(id string) url.Values {
	return url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "client_id": {id}}
}

// wantBound checks a certificate-bound token (RFC 8705 §3.1).
func wantBound(t *testing.T, r *response, cert *mtlstest.Cert) {
	t.Helper()
	wantToken(t, r)
	if r.str("token_type") != "Bearer" {
		t.Errorf("token_type %q, want Bearer (RFC 8705 §3)", r.str("token_type"))
	}
	_, cl := decodeJWT(t, r.str("access_token"))
	cnf, _ := cl["cnf"].(map[string]any)
	if got, want := cnf["x5t#S256"], mtls.Thumbprint(cert.Cert); got != want || cnf["jkt"] != nil {
		t.Fatalf("cnf %v, want x5t#S256 %s", cl["cnf"], want)
	}
}

func TestMTLSClientAuth(t *testing.T) {
	e := newMTLSEnv(t)
	good := e.ca.Issue(t, mtlstest.Options{CommonName: "orders", URIs: []string{workloadID}, ClientOnly: true})
	otherCA := mtlstest.NewCA(t, "Other CA").Issue(t, mtlstest.Options{URIs: []string{workloadID}})
	expired := e.ca.Issue(t, mtlstest.Options{URIs: []string{workloadID}, Expired: true})
	wrongSAN := e.ca.Issue(t, mtlstest.Options{URIs: []string{"spiffe://test/ns/pay/sa/other"}})
	dn := e.ca.Issue(t, mtlstest.Options{CommonName: "dn-client", Organization: "Ward Test"})
	// The registered self-signed key in an expired certificate.
	expiredSelf := mtlstest.SelfSignedWithKey(t, e.self.Key, mtlstest.Options{CommonName: "self", Expired: true})

	wantBound(t, e.post(e.url, good, PathToken, cc("tlsc")), good)
	wantBound(t, e.post(e.url, dn, PathToken, cc("tlsdn")), dn)
	wantBound(t, e.post(e.url, e.self, PathToken, cc("selfc")), e.self)
	// Counted as certificate-bound (ward_authz_tokens_issued_total's sender).
	if n := counters(t, e.s)[issuedAs(oauth.GrantClientCredentials, senderMTLS)]; n != 3 {
		t.Errorf("sender=mtls counted %v tokens, want 3", n)
	}

	for _, tc := range []struct {
		name   string
		client string
		cert   *mtlstest.Cert
	}{
		{"tls_client_auth without certificate", "tlsc", nil},
		{"tls_client_auth other CA", "tlsc", otherCA},
		{"tls_client_auth expired", "tlsc", expired},
		{"tls_client_auth wrong SAN", "tlsc", wrongSAN},
		{"tls_client_auth self-signed", "tlsc", e.self},
		{"tls_client_auth wrong subject DN", "tlsdn", good},
		{"self_signed without certificate", "selfc", nil},
		{"self_signed other key", "selfc", mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "self"})},
		{"self_signed expired", "selfc", expiredSelf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.post(e.url, tc.cert, PathToken, cc(tc.client)), http.StatusUnauthorized, "invalid_client")
		})
	}
	if !strings.Contains(e.h.log.String(), "certificate has expired") {
		t.Errorf("the log does not say the certificate expired:\n%s", e.h.log)
	}

	// A secret does not authenticate a tls_client_auth client.
	f := cc("tlsc")
	f.Set("client_secret", "x")
	wantError(t, e.post(e.url, good, PathToken, f), http.StatusUnauthorized, "invalid_client")

	// A bearer (opt-out) tls_client_auth client gets unbound tokens.
	svc := e.ca.Issue(t, mtlstest.Options{DNSNames: []string{"svc.example"}})
	r := e.post(e.url, svc, PathToken, cc("tlsbearer"))
	wantToken(t, r)
	if _, cl := decodeJWT(t, r.str("access_token")); cl["cnf"] != nil {
		t.Errorf("bearer client got cnf %v", cl["cnf"])
	}

	// The certificate-bound secret client of the harness ("mtls",
	// client_secret_basic) gets a bound token over mTLS.
	wantBound(t, e.post(e.url, good, PathToken, url.Values{"grant_type": {string(oauth.GrantClientCredentials)}}, e.h.basic("mtls")...), good)
}

func TestMTLSTrustedProxy(t *testing.T) {
	e := newMTLSEnv(t)
	good := e.ca.Issue(t, mtlstest.Options{URIs: []string{workloadID}})
	roots := mtls.StaticPool{Pool: e.ca.Pool()}
	hdr := []string{mtls.DefaultForwardedHeader, good.Escaped()}

	trusted := httptest.NewServer(e.newServer(&mtls.TrustedProxy{Roots: roots, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}).Handler())
	t.Cleanup(trusted.Close)
	wantBound(t, e.post(trusted.URL, nil, PathToken, cc("tlsc"), hdr...), good)
	// Re-verified: a certificate of another CA is refused even from the proxy.
	other := mtlstest.NewCA(t, "Other").Issue(t, mtlstest.Options{URIs: []string{workloadID}})
	wantError(t, e.post(trusted.URL, nil, PathToken, cc("tlsc"), mtls.DefaultForwardedHeader, other.Escaped()), http.StatusUnauthorized, "invalid_client")

	untrusted := httptest.NewServer(e.newServer(&mtls.TrustedProxy{Roots: roots, Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}).Handler())
	t.Cleanup(untrusted.Close)
	wantError(t, e.post(untrusted.URL, nil, PathToken, cc("tlsc"), hdr...), http.StatusUnauthorized, "invalid_client")
	// Nor does the header bind a token there.
	r := e.post(untrusted.URL, nil, PathToken, url.Values{"grant_type": {string(oauth.GrantClientCredentials)}}, append(e.h.basic("mtls"), hdr...)...)
	wantError(t, r, http.StatusBadRequest, "invalid_request")
}

func TestMTLSPublicClientRefreshBound(t *testing.T) {
	e := newMTLSEnv(t)
	a := mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "device-a"})
	b := mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "device-b"})
	code, verifier := e.h.code(e.h.newBrowser(), "pubm", spaRedirect, nil)
	r := e.post(e.url, a, PathToken, url.Values{"grant_type": {string(oauth.GrantAuthorizationCode)}, "client_id": {"pubm"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {spaRedirect}})
	wantBound(t, r, a)
	rt := r.str("refresh_token")
	if rt == "" {
		t.Fatal("no refresh token")
	}
	refresh := url.Values{"grant_type": {string(oauth.GrantRefreshToken)}, "client_id": {"pubm"}, "refresh_token": {rt}}
	wantError(t, e.post(e.url, b, PathToken, refresh), http.StatusBadRequest, "invalid_grant")
	wantError(t, e.post(e.url, nil, PathToken, refresh), http.StatusBadRequest, "invalid_grant")
	// A DPoP proof does not replace the certificate.
	wantError(t, e.post(e.url, nil, PathToken, refresh, "DPoP", e.h.proof(e.h.newSigner())), http.StatusBadRequest, "invalid_grant")
	// The refused attempts did not rotate or revoke: the holder refreshes.
	r = e.post(e.url, a, PathToken, refresh)
	wantBound(t, r, a)

	// The new refresh token keeps the binding (only its own client could
	// introspect it, and a public client may not introspect).
	if _, fam, err := e.h.st.GetRefreshToken(t.Context(), hashToken(r.str("refresh_token"))); err != nil || fam.CertThumbprint != mtls.Thumbprint(a.Cert) {
		t.Errorf("new refresh token's family %v %v, want bound to the certificate", fam, err)
	}
}

func TestMTLSMetadata(t *testing.T) {
	e := newMTLSEnv(t)
	md := e.s.Metadata()
	if !md.TLSClientCertificateBoundAccessTokens {
		t.Error("tls_client_certificate_bound_access_tokens not advertised")
	}
	for _, m := range []oauth.AuthMethod{oauth.AuthTLSClient, oauth.AuthSelfSignedTLSClient} {
		if !slices.Contains(md.TokenEndpointAuthMethodsSupported, m) || !slices.Contains(md.RevocationEndpointAuthMethodsSupported, m) {
			t.Errorf("%s not advertised: %v", m, md.TokenEndpointAuthMethodsSupported)
		}
	}
	if md.MTLSEndpointAliases == nil || md.MTLSEndpointAliases.TokenEndpoint != e.url+PathToken || md.MTLSEndpointAliases.UserinfoEndpoint != e.url+PathUserInfo {
		t.Fatalf("mtls_endpoint_aliases %+v, want token endpoint %s", md.MTLSEndpointAliases, e.url+PathToken)
	}
	// Off by default: the harness server has no client certificates.
	plain := e.h.s.Metadata()
	if plain.TLSClientCertificateBoundAccessTokens || slices.Contains(plain.TokenEndpointAuthMethodsSupported, oauth.AuthTLSClient) {
		t.Errorf("mTLS advertised without mTLS: %+v", plain)
	}
}

// TestMTLSMetadataDeviceAlias: with the device grant on, its endpoint
// has an mTLS alias too (RFC 8705 §5), so a tls_client_auth device client
// finds where to present its certificate; off, there is none.
func TestMTLSMetadataDeviceAlias(t *testing.T) {
	e := newMTLSEnv(t, func(c *config.Config) { c.DeviceAuthorization.Enabled = true })
	if a := e.s.Metadata().MTLSEndpointAliases; a == nil || a.DeviceAuthorizationEndpoint != e.url+PathDeviceAuthorization {
		t.Fatalf("mtls_endpoint_aliases %+v, want device_authorization_endpoint %s", a, e.url+PathDeviceAuthorization)
	}
	if a := newMTLSEnv(t).s.Metadata().MTLSEndpointAliases; a == nil || a.DeviceAuthorizationEndpoint != "" {
		t.Fatalf("device alias advertised with the grant off: %+v", a)
	}
}

func TestNewMTLS(t *testing.T) {
	cfg := config.Default()
	if sc, p, err := NewMTLS(cfg, nil); sc != nil || p != nil || err != nil {
		t.Fatalf("off: %v %v %v", sc, p, err)
	}
	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	cfg.MTLS.ClientCAFiles = []string{ca.WriteFile(t, dir)}
	cfg.TLS.CertFile, cfg.TLS.KeyFile = ca.Issue(t, mtlstest.Options{ServerOnly: true}).WriteFiles(t, dir, "server")
	sc, p, err := NewMTLS(cfg, nil)
	if err != nil || sc == nil || p == nil || p.Roots != mtls.CAPool(sc) || len(p.Trusted) != 0 {
		t.Fatalf("tls: %v %+v %v", sc, p, err)
	}
	// TLS terminated by a proxy: the forwarded header from trusted proxies.
	cfg.TLS = config.TLS{}
	cfg.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cfg.MTLS.ForwardedCertHeader = "X-Client-Cert"
	sc, p, err = NewMTLS(cfg, nil)
	if err != nil || sc != nil || p == nil || p.Header != "X-Client-Cert" || len(p.Trusted) != 1 {
		t.Fatalf("proxy: %v %+v %v", sc, p, err)
	}
	c := ca.Issue(t, mtlstest.Options{})
	r := httptest.NewRequest("POST", "/token", nil)
	r.RemoteAddr = "10.1.1.1:4000"
	r.Header.Set("X-Client-Cert", c.Escaped())
	if got, err := mtls.ClientCertificate(r, p); err != nil || !got.Equal(c.Cert) {
		t.Fatalf("forwarded: %v", err)
	}
	cfg.MTLS.ClientCAFiles = []string{filepath.Join(dir, "server-key.pem")}
	if _, _, err := NewMTLS(cfg, nil); err == nil {
		t.Fatal("a key file accepted as CA")
	}
}
