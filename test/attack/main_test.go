package attack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/mtls/mtlstest"
)

const (
	svcClient     = "svc"   // confidential, client_credentials, audience: the gateway
	otherClient   = "other" // confidential, client_credentials, another audience
	shortClient   = "short" // confidential, client_credentials, 1s tokens
	webClient     = "web"   // public, authorization_code and refresh_token
	web2Client    = "web-2" // public, authorization_code, same redirect URI
	pkjClient     = "pkj"   // private_key_jwt (ward.pkjKey), client_credentials
	webRedirect   = "http://127.0.0.1/cb"
	otherAudience = "https://other.example"
	svcSecret     = "svc-secret-for-the-attack-test"
	userName      = "alice"
	userPass      = "correct horse battery staple"
	apiPath       = "/api/whoami"
)

// ward is the one running `ward serve` every test attacks.
var ward struct {
	bin                    string // the built ward binary
	asURL, gwURL, adminURL string
	client                 *http.Client
	hits                   atomic.Int64 // requests that reached the upstream
	decoyHits              atomic.Int64 // requests that reached the decoy (jku, x5u, iss)
	decoyURL               string
	out                    *wardtest.SyncBuffer
	shortTok               string // a 1s token of shortClient, bound to shortSigner
	shortSigner            *dpop.Signer
	shortExp               time.Time
	pkjKey                 *ecdsa.PrivateKey // pkjClient's assertion key

	mu    sync.Mutex
	paths []string    // every path the upstream received, escaped
	last  http.Header // the headers of the last request it received
	// complete is, per request in paths, whether its body arrived
	// whole (read to its end without an error).
	complete []bool
}

// upstreamSince is the paths the upstream received after the n-th.
func upstreamSince(n int) []string {
	ward.mu.Lock()
	defer ward.mu.Unlock()
	return append([]string(nil), ward.paths[n:]...)
}

func upstreamCount() int { ward.mu.Lock(); defer ward.mu.Unlock(); return len(ward.paths) }

// completeSince is the paths of the requests after the n-th whose body
// reached the upstream whole.
func completeSince(n int) []string {
	ward.mu.Lock()
	defer ward.mu.Unlock()
	var out []string
	for i := n; i < len(ward.paths); i++ {
		if ward.complete[i] {
			out = append(out, ward.paths[i])
		}
	}
	return out
}

func lastUpstreamHeader() http.Header {
	ward.mu.Lock()
	defer ward.mu.Unlock()
	return ward.last.Clone()
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ward-attack-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd, err := startWard(dir)
	if cmd != nil {
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting ward: %v\n", err)
		if ward.out != nil {
			fmt.Fprintln(os.Stderr, ward.out.String())
		}
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- ward output:\n%s\n", ward.out.String())
	}
	return code
}

func startWard(dir string) (*exec.Cmd, error) {
	bin, err := wardtest.Build(dir)
	if err != nil {
		return nil, err
	}
	ward.bin = bin
	p, err := mtlstest.WriteLoopback(dir)
	if err != nil {
		return nil, err
	}
	caFile, certFile, keyFile, pool := p.CAFile, p.CertFile, p.KeyFile, p.Pool
	upstream, err := serve(func(w http.ResponseWriter, r *http.Request) {
		ward.hits.Add(1)
		_, berr := io.Copy(io.Discard, r.Body)
		ward.mu.Lock()
		ward.paths = append(ward.paths, r.URL.EscapedPath())
		ward.complete = append(ward.complete, berr == nil)
		ward.last = r.Header.Clone()
		ward.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"client": r.Header.Get("X-Ward-Client"), "path": r.URL.Path})
	})
	if err != nil {
		return nil, err
	}
	if ward.decoyURL, err = serve(func(w http.ResponseWriter, r *http.Request) {
		ward.decoyHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"keys":[]}`)
	}); err != nil {
		return nil, err
	}
	if ward.pkjKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	pkjJWK := publicJWK(ward.pkjKey, false)
	pkjJWK["kid"], pkjJWK["alg"], pkjJWK["use"] = "pkj-1", "ES256", "sig"
	jwks, _ := json.Marshal(map[string]any{"keys": []any{pkjJWK}})
	pkjJWKS := string(jwks)
	asAddr, gwAddr, adminAddr := freeAddr(), freeAddr(), freeAddr()
	ward.asURL, ward.gwURL, ward.adminURL = "https://"+asAddr, "https://"+gwAddr, "http://"+adminAddr
	cfg := fmt.Sprintf(`issuer: %[1]s
listen: %[2]s
tls: {cert_file: %[3]s, key_file: %[4]s}
data_dir: %[5]s
store: {driver: sqlite}
clients:
  - id: %[6]s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%[7]s]
  - id: %[8]s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%[9]s]
  - id: %[10]s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%[7]s]
    access_token_ttl: 1s
  - id: %[11]s
    auth_method: none
    redirect_uris: [%[12]s]
    grant_types: [authorization_code, refresh_token]
    scopes: [demo:read, demo:write]
    audiences: [%[7]s]
  - id: %[11]s-2
    auth_method: none
    redirect_uris: [%[12]s]
    grant_types: [authorization_code]
    scopes: [demo:read]
    audiences: [%[7]s]
  - id: %[17]s
    auth_method: private_key_jwt
    jwks: '%[18]s'
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%[7]s]
users:
  - {subject: u-alice, username: %[13]s, password_env: WARD_TEST_ALICE_PASSWORD}
gateway:
  enabled: true
  listen: %[14]s
  admin_listen: %[15]s
  tls: {cert_file: %[3]s, key_file: %[4]s}
  public_url: %[7]s
  leeway: 1s
  limits: {max_body_bytes: 64KiB, max_header_bytes: 16KiB}
  routes:
    - name: api
      path_prefix: /api/
      upstream: %[16]s
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
    - name: pub
      path_prefix: /pub/
      upstream: %[16]s
      unauthenticated: true
    - name: admin
      path_prefix: /admin/
      upstream: %[16]s
      policy: [{name: nobody, action: allow, principals: ["client:nobody"]}]
`, ward.asURL, asAddr, certFile, keyFile, dir, svcClient, ward.gwURL, otherClient, otherAudience,
		shortClient, webClient, webRedirect, userName, gwAddr, adminAddr, upstream, pkjClient, pkjJWKS)
	cfgPath := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Env = append(wardtest.CleanEnv(),
		"WARD_FLOW_KEY="+wardtest.RandKey(),
		"WARD_KEY_ENCRYPTION_KEY="+wardtest.RandKey(),
		"WARD_TEST_SVC_SECRET="+svcSecret,
		"WARD_TEST_ALICE_PASSWORD="+userPass,
		"SSL_CERT_FILE="+caFile,
	)
	ward.out = &wardtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = ward.out, ward.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ward.client = &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if err := wardtest.WaitOK(ward.client, ward.asURL+"/.well-known/oauth-authorization-server"); err != nil {
		return cmd, err
	}
	if err := wardtest.WaitOK(ward.client, ward.adminURL+"/readyz"); err != nil {
		return cmd, err
	}
	// The 1s token is taken now, so that it has expired by the time its
	// test runs.
	sg, err := newSigner(time.Now())
	if err != nil {
		return cmd, err
	}
	r, err := tokenRequest(shortClient, url.Values{"grant_type": {"client_credentials"}, "scope": {"demo:read"}}, sg)
	if err != nil {
		return cmd, err
	}
	if r.status != http.StatusOK || r.str("access_token") == "" {
		return cmd, fmt.Errorf("short token: %v", r)
	}
	ward.shortTok, ward.shortSigner = r.str("access_token"), sg
	_, cl := decodeJWT(ward.shortTok)
	exp, _ := cl["exp"].(float64)
	ward.shortExp = time.Unix(int64(exp), 0)
	return cmd, nil
}

func serve(h http.HandlerFunc) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// --- requests ---

type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *response) str(k string) string { s, _ := r.json[k].(string); return s }
func (r *response) String() string      { return fmt.Sprintf("%d %s", r.status, r.body) }

func do(req *http.Request) (*response, error) {
	resp, err := ward.client.Do(req)
	if err != nil {
		return nil, err
	}
	return readResponse(resp), nil
}

// readResponse reads and closes resp's body.
func readResponse(resp *http.Response) *response {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

func mustDo(t *testing.T, req *http.Request) *response {
	t.Helper()
	r, err := do(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tokenRequest(client string, form url.Values, sg *dpop.Signer) (*response, error) {
	req, _ := http.NewRequest(http.MethodPost, ward.asURL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if client != "" {
		req.SetBasicAuth(client, svcSecret)
	}
	if sg != nil {
		p, err := sg.Proof(http.MethodPost, ward.asURL+"/token")
		if err != nil {
			return nil, err
		}
		req.Header.Set("DPoP", p)
	}
	return do(req)
}

// newSigner is a fresh P-256 DPoP key whose proofs carry iat from the
// clock now (shifted by the difference between at and the time of the
// call).
func newSigner(at time.Time) (*dpop.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return signerFor(k, time.Until(at))
}

func signerFor(k *ecdsa.PrivateKey, skew time.Duration) (*dpop.Signer, error) {
	return dpop.NewSigner(k, dpop.WithClock(func() time.Time { return time.Now().Add(skew) }))
}

// serviceToken is a fresh DPoP-bound token of client for a fresh key.
func serviceToken(t *testing.T, client string) (string, *dpop.Signer, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := signerFor(k, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tokenRequest(client, url.Values{"grant_type": {"client_credentials"}, "scope": {"demo:read"}}, sg)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("token_type") != "DPoP" {
		t.Fatalf("client_credentials for %s: %v", client, r)
	}
	return r.str("access_token"), sg, k
}

func proof(t *testing.T, sg *dpop.Signer, method, path, tok string) string {
	t.Helper()
	var opts []dpop.ProofOption
	if tok != "" {
		opts = append(opts, dpop.WithAccessToken(tok))
	}
	p, err := sg.Proof(method, ward.gwURL+path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// call sends method path to the gateway with the Authorization value and
// the DPoP headers given.
func call(t *testing.T, method, path, authorization string, proofs ...string) *response {
	t.Helper()
	req, _ := http.NewRequest(method, ward.gwURL+path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return mustDo(t, req)
}

// rejections is the gateway's ward_gateway_rejections_total by
// "error/reason".
func rejections(t *testing.T) map[string]float64 { return wardtest.Rejections(t, ward.adminURL) }

func delta(before, after map[string]float64) map[string]float64 { return wardtest.Delta(before, after) }

// --- JWS helpers ---

var b64 = base64.RawURLEncoding

func signingInput(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return b64.EncodeToString(h) + "." + b64.EncodeToString(c)
}

func es256(k *ecdsa.PrivateKey, in string) string {
	sum := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		panic(err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return b64.EncodeToString(out)
}

func decodeJWT(tok string) (header, claims map[string]any) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil
	}
	h, _ := b64.DecodeString(parts[0])
	c, _ := b64.DecodeString(parts[1])
	_ = json.Unmarshal(h, &header)
	_ = json.Unmarshal(c, &claims)
	return header, claims
}

// publicJWK is k's public JWK (with d when private is set).
func publicJWK(k *ecdsa.PrivateKey, private bool) map[string]any {
	pub, _ := k.PublicKey.Bytes() // 0x04 || X || Y
	m := map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:])}
	if private {
		d, _ := k.Bytes()
		m["d"] = b64.EncodeToString(d)
	}
	return m
}

// malleate re-encodes an ES256 signature (r, s) as (r, n−s): another valid
// signature of the same proof.
func malleate(t *testing.T, p string) string {
	t.Helper()
	parts := strings.Split(p, ".")
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("bad ES256 signature")
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := make([]byte, 64)
	copy(out, sig[:32])
	s.FillBytes(out[32:])
	parts[2] = b64.EncodeToString(out)
	return strings.Join(parts, ".")
}
