package extauthz_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"github.com/wardauth/ward/oauth"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/store"
)

// The gateway's public URL, and so the scheme and host Envoy reports.
const (
	publicURL = "https://api.example"
	apiHost   = "api.example"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// routes of the gateway behind Envoy: orders needs a DPoP-bound token
// of client app (GET with orders:read, POST with orders:write).
func routes() []config.Route {
	return []config.Route{{Name: "orders", PathPrefix: "/orders/", Upstream: "http://127.0.0.1:1", Policy: []config.PolicyRule{
		{Action: "allow", Principals: []string{"client:app"}, Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
		{Action: "allow", Principals: []string{"client:app"}, Methods: []string{"POST"}, Scopes: []string{"orders:write"}},
	}}}
}

// serve starts a gateway with cfg and opts behind Ward's ext_authz server
// on a loopback port and returns a gRPC client of it, as Envoy's
// envoy_grpc cluster connects (HTTP/2, plaintext on loopback).
func serve(t *testing.T, cfg *config.Gateway, opts gateway.Options) authv3.AuthorizationClient {
	t.Helper()
	opts.Logger = quiet
	gw, err := gateway.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ea := config.ExtAuthz{Listen: "127.0.0.1:0"}
	gs, err := extauthz.NewGRPCServer(extauthz.New(extauthz.DeciderFunc(gw.DecideAndRecord), extauthz.Options{Logger: quiet}), &ea)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", ea.Listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- extauthz.Serve(ctx, gs, extauthz.TrustedListener(ln, ea.Peers(), quiet), 5*time.Second)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return authv3.NewAuthorizationClient(cc)
}

// dpopEnv is Ward's authorization server in process, a DPoP client of it
// (app, client_credentials) and the gateway's ext_authz server.
type dpopEnv struct {
	t      *testing.T
	as     *authztest.Server
	signer *dpop.Signer
	ea     authv3.AuthorizationClient
}

func newDPoPEnv(t *testing.T, nonces bool) *dpopEnv {
	t.Helper()
	e := &dpopEnv{t: t}
	e.as = authztest.New(t, authztest.Options{Clients: []store.Client{{
		ID: "app", AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
		Scopes: []string{"orders:read", "orders:write"}, Audiences: []string{publicURL}, SenderConstraint: store.ConstraintDPoP,
	}}})
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.signer, _ = dpop.NewSigner(ck)
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL, cfg.Routes = true, e.as.URL, publicURL, routes()
	opts := gateway.Options{Keys: resource.NewRemoteKeys(e.as.URL, resource.RemoteKeysOptions{})}
	if nonces {
		n, err := dpop.NewStatelessNonces("gateway", time.Minute, []byte("0123456789abcdef0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		opts.Nonces = n
	}
	e.ea = serve(t, &cfg, opts)
	return e
}

// token gets a DPoP-bound access token for scope from the authorization
// server (RFC 9449 §5).
func (e *dpopEnv) token(scope string) string {
	e.t.Helper()
	proof, err := e.signer.Proof("POST", e.as.URL+"/token")
	if err != nil {
		e.t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {publicURL}}
	req, _ := http.NewRequest("POST", e.as.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", proof)
	req.SetBasicAuth("app", e.as.Secrets["app"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.TokenType != "DPoP" {
		e.t.Fatalf("token: %d %v %+v", resp.StatusCode, err, tr)
	}
	return tr.AccessToken
}

// proof signs a proof for the URL Envoy reports: scheme://host/path.
func (e *dpopEnv) proof(method, path, tok string, opts ...dpop.ProofOption) string {
	e.t.Helper()
	p, err := e.signer.Proof(method, "https://"+apiHost+path, append(opts, dpop.WithAccessToken(tok))...)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func check(t *testing.T, ea authv3.AuthorizationClient, a *authv3.AttributeContext) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := ea.Check(ctx, &authv3.CheckRequest{Attributes: a})
	if err != nil {
		t.Fatalf("Check: an RPC error is Envoy's failure_mode_allow case: %v", err)
	}
	return resp
}

// okHeaders returns the headers set upstream, failing unless allowed.
func okHeaders(t *testing.T, resp *authv3.CheckResponse) (*authv3.OkHttpResponse, map[string]string) {
	t.Helper()
	ok := resp.GetOkResponse()
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK || ok == nil {
		t.Fatalf("not allowed: %v %v", resp.GetStatus(), resp.GetDeniedResponse())
	}
	h := map[string]string{}
	for _, o := range ok.GetHeaders() {
		if o.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Errorf("header %s: append action %v: a client's copy must be overwritten", o.GetHeader().GetKey(), o.GetAppendAction())
		}
		h[o.GetHeader().GetKey()] = o.GetHeader().GetValue()
	}
	return ok, h
}

// denied returns the denied response's headers (lower-case, values
// joined with "\n"), failing unless the status and gRPC code are these.
func denied(t *testing.T, resp *authv3.CheckResponse, status int, code codes.Code) (map[string]string, string) {
	t.Helper()
	d := resp.GetDeniedResponse()
	if d == nil || codes.Code(resp.GetStatus().GetCode()) != code || int(d.GetStatus().GetCode()) != status {
		t.Fatalf("want %d %v, got %v %v", status, code, resp.GetStatus(), resp.GetHttpResponse())
	}
	h := map[string]string{}
	for _, o := range d.GetHeaders() {
		k := o.GetHeader().GetKey()
		if h[k] != "" {
			h[k] += "\n"
		}
		h[k] += o.GetHeader().GetValue()
	}
	return h, d.GetBody()
}

func TestConformance(t *testing.T) {
	t.Run("DPoP-bound token with a fresh proof", func(t *testing.T) {
		e := newDPoPEnv(t, false)
		tok := e.token("orders:read")
		a := attrs("GET", "https", apiHost, "/orders/42?expand=items", map[string]string{
			"authorization": "DPoP " + tok, "dpop": e.proof("GET", "/orders/42", tok)})
		ok, h := okHeaders(t, check(t, e.ea, a))
		if h["x-ward-client"] != "app" || h["x-ward-scopes"] != "orders:read" || h["x-ward-jkt"] != e.signer.Thumbprint() {
			t.Errorf("identity headers %v", h)
		}
		for _, k := range []string{"authorization", "dpop"} {
			if !slices.Contains(ok.GetHeadersToRemove(), k) {
				t.Errorf("%s not in headers_to_remove %v: the credentials would reach the upstream", k, ok.GetHeadersToRemove())
			}
		}
		for _, k := range []string{"x-forwarded-for", "x-forwarded-proto", "x-request-id"} {
			if slices.Contains(ok.GetHeadersToRemove(), k) {
				t.Errorf("%s is Envoy's, not to remove", k)
			}
		}
	})
	t.Run("replayed proof", func(t *testing.T) {
		e := newDPoPEnv(t, false)
		tok := e.token("orders:read")
		a := attrs("GET", "https", apiHost, "/orders/42", map[string]string{"authorization": "DPoP " + tok, "dpop": e.proof("GET", "/orders/42", tok)})
		okHeaders(t, check(t, e.ea, a))
		h, _ := denied(t, check(t, e.ea, a), 401, codes.Unauthenticated)
		if !strings.HasPrefix(h["www-authenticate"], "DPoP ") || !strings.Contains(h["www-authenticate"], `error="invalid_dpop_proof"`) {
			t.Errorf("challenge %q", h["www-authenticate"])
		}
	})
	t.Run("proof for another URL than Envoy reports", func(t *testing.T) {
		e := newDPoPEnv(t, false)
		tok := e.token("orders:read")
		a := attrs("GET", "http", apiHost, "/orders/42", map[string]string{"authorization": "DPoP " + tok, "dpop": e.proof("GET", "/orders/42", tok)})
		h, _ := denied(t, check(t, e.ea, a), 401, codes.Unauthenticated)
		if !strings.Contains(h["www-authenticate"], `error="invalid_dpop_proof"`) {
			t.Errorf("challenge %q", h["www-authenticate"])
		}
	})
	t.Run("missing token", func(t *testing.T) {
		e := newDPoPEnv(t, false)
		h, _ := denied(t, check(t, e.ea, attrs("GET", "https", apiHost, "/orders/42", nil)), 401, codes.Unauthenticated)
		if !strings.HasPrefix(h["www-authenticate"], "DPoP ") || !strings.Contains(h["www-authenticate"], "algs=") {
			t.Errorf("challenge %q", h["www-authenticate"])
		}
		if h["cache-control"] != "no-store" {
			t.Errorf("cache-control %q", h["cache-control"])
		}
	})
	t.Run("forged identity headers removed", func(t *testing.T) {
		e := newDPoPEnv(t, false)
		tok := e.token("orders:read")
		a := attrs("GET", "https", apiHost, "/orders/42", map[string]string{"authorization": "DPoP " + tok, "dpop": e.proof("GET", "/orders/42", tok),
			"x-ward-subject": "admin", "x-ward-spiffe-id": "spiffe://prod/ns/payments/sa/refund-service", "x_ward_client": "root"})
		ok, h := okHeaders(t, check(t, e.ea, a))
		if h["x-ward-subject"] != "app" {
			t.Errorf("x-ward-subject %q: the client's copy must be overwritten", h["x-ward-subject"])
		}
		for _, k := range []string{"x-ward-spiffe-id", "x_ward_client"} {
			if !slices.Contains(ok.GetHeadersToRemove(), k) {
				t.Errorf("%s not in headers_to_remove %v", k, ok.GetHeadersToRemove())
			}
		}
		if slices.Contains(ok.GetHeadersToRemove(), "x-ward-subject") {
			t.Error("x-ward-subject both set and removed: Envoy removes after it sets")
		}
	})
	t.Run("wrong scope", func(t *testing.T) {
		e := newDPoPEnv(t, false)
		tok := e.token("orders:read")
		a := attrs("POST", "https", apiHost, "/orders/42", map[string]string{"authorization": "DPoP " + tok, "dpop": e.proof("POST", "/orders/42", tok)})
		h, body := denied(t, check(t, e.ea, a), 403, codes.PermissionDenied)
		if !strings.Contains(h["www-authenticate"], `error="insufficient_scope"`) || !strings.Contains(h["www-authenticate"], `scope="orders:write"`) {
			t.Errorf("challenge %q body %s", h["www-authenticate"], body)
		}
	})
	t.Run("nonce challenge passed through", func(t *testing.T) {
		e := newDPoPEnv(t, true)
		tok := e.token("orders:read")
		a := attrs("GET", "https", apiHost, "/orders/42", map[string]string{"authorization": "DPoP " + tok, "dpop": e.proof("GET", "/orders/42", tok)})
		h, _ := denied(t, check(t, e.ea, a), 401, codes.Unauthenticated)
		nonce := h["dpop-nonce"]
		if nonce == "" || !strings.Contains(h["www-authenticate"], `error="use_dpop_nonce"`) {
			t.Fatalf("RFC 9449 §9 challenge: %v", h)
		}
		a = attrs("GET", "https", apiHost, "/orders/42", map[string]string{"authorization": "DPoP " + tok, "dpop": e.proof("GET", "/orders/42", tok, dpop.WithNonce(nonce))})
		okHeaders(t, check(t, e.ea, a))
	})
	t.Run("malformed attributes", func(t *testing.T) {
		e := newDPoPEnv(t, false)
		a := attrs("GET", "https", apiHost, "/orders/42", nil)
		a.Source.Certificate = "-----BEGIN%20CERTIFICATE-----%0Agarbage"
		_, body := denied(t, check(t, e.ea, a), 400, codes.PermissionDenied)
		if !strings.Contains(body, `"error":"invalid_request"`) {
			t.Errorf("body %s", body)
		}
	})
}

// TestCertificateBoundToken: Envoy forwards the client's certificate
// (include_peer_certificate) and a token bound to it (RFC 8705 §3,
// cnf.x5t#S256) passes only with that certificate, verified against
// gateway.mtls.client_ca_files.
func TestCertificateBoundToken(t *testing.T) {
	ca := mtlstest.NewCA(t)
	leaf := ca.Issue(t, mtlstest.Options{URIs: []string{"spiffe://prod/ns/shop/sa/app"}, ClientOnly: true})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL, cfg.Routes = true, "https://as.example", publicURL, routes()
	cfg.MTLS.ClientCAFiles = []string{ca.WriteFile(t, t.TempDir())}
	cfg.ExtAuthz.Listen = "127.0.0.1:0"
	ea := serve(t, &cfg, gateway.Options{Keys: resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256"}}}})
	tok := signToken(t, key, time.Now(), map[string]any{"cnf": map[string]any{"x5t#S256": mtls.Thumbprint(leaf.Cert)}})
	call := func(cert string) *authv3.CheckResponse {
		a := attrs("GET", "https", apiHost, "/orders/42", map[string]string{"authorization": "Bearer " + tok})
		a.Source.Certificate = cert
		return check(t, ea, a)
	}
	_, h := okHeaders(t, call(leaf.Escaped()))
	if h["x-ward-cert-thumbprint"] != mtls.Thumbprint(leaf.Cert) || h["x-ward-client"] != "app" {
		t.Errorf("identity headers %v", h)
	}
	denied(t, call(""), 401, codes.Unauthenticated)
	other := ca.Issue(t, mtlstest.Options{URIs: []string{"spiffe://prod/ns/shop/sa/other"}, ClientOnly: true})
	denied(t, call(other.Escaped()), 401, codes.Unauthenticated)
	foreign := mtlstest.NewCA(t).Issue(t, mtlstest.Options{ClientOnly: true})
	denied(t, call(foreign.Escaped()), 401, codes.Unauthenticated)
}

// signToken mints an RFC 9068 access token of client app for publicURL.
func signToken(t testing.TB, key *ecdsa.PrivateKey, now time.Time, extra map[string]any) string {
	t.Helper()
	claims := map[string]any{"iss": "https://as.example", "sub": "app", "client_id": "app", "aud": publicURL,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "t1", "scope": "orders:read"}
	for k, v := range extra {
		claims[k] = v
	}
	hb, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "k1"})
	cb, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
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

// TestClientCertHeaderNotBelieved: through Envoy, a client (even one
// inside behind_tls_proxy.trusted_proxies) that sends a copy of someone's
// certificate in gateway.mtls.forwarded_cert_header does not pass for its
// owner on a certificate-only route, and the header is removed upstream.
func TestClientCertHeaderNotBelieved(t *testing.T) {
	ca := mtlstest.NewCA(t)
	victim := ca.Issue(t, mtlstest.Options{URIs: []string{"spiffe://prod/ns/payments/sa/order-service"}, ClientOnly: true})
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, "https://as.example", publicURL
	cfg.Routes = append(routes(), config.Route{Name: "charges", PathPrefix: "/api/v1/charges", Upstream: "http://127.0.0.1:1",
		Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"spiffe://prod/ns/payments/sa/order-service"}}}})
	cfg.MTLS.ClientCAFiles = []string{ca.WriteFile(t, t.TempDir())}
	cfg.MTLS.CertificateRoutes = []string{"charges"}
	cfg.MTLS.ForwardedCertHeader = "X-Client-Cert"
	cfg.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ea := serve(t, &cfg, gateway.Options{Keys: resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256"}}}})
	a := attrs("POST", "https", apiHost, "/api/v1/charges", map[string]string{"x-client-cert": victim.Escaped()})
	denied(t, check(t, ea, a), 401, codes.Unauthenticated) // source 203.0.113.7: inside trusted_proxies
	a.Source.Certificate = victim.Escaped()                // what Envoy reports from the handshake
	a.Request.Http.Headers["x-client-cert"] = victim.Escaped()
	ok, h := okHeaders(t, check(t, ea, a))
	if h["x-ward-spiffe-id"] != "spiffe://prod/ns/payments/sa/order-service" || !slices.Contains(ok.GetHeadersToRemove(), "x-client-cert") {
		t.Errorf("headers %v, headers_to_remove %v", h, ok.GetHeadersToRemove())
	}
}
