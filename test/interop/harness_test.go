package interop

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/oauth"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// interopDir holds the pinned npm packages (interop/package.json); .ci/run
// installs them with npm ci.
var interopDir = wardtest.InteropDir

// needNode returns node, or skips the test without it or pkgs.
var needNode = wardtest.NeedNode

const (
	testUser     = "alice"
	testSubject  = "u-alice"
	testPassword = "correct horse battery staple"

	appClient  = "app" // public, authorization_code + refresh_token, audience = the gateway
	rpClient   = "rp"  // confidential OpenID Connect relying party (serveWard)
	rpCallback = "https://rp.interop.example/callback"
	rpLogout   = "https://rp.interop.example/logged-out"
	svcClient  = "svc"   // confidential, client_credentials, audience = rsAudience
	gwRSClient = "gw-rs" // confidential resource server of the gateway's audience (introspection)
	rsAudience = "https://rs.interop.example"
	callback   = "http://127.0.0.1/callback" // any port (RFC 8252 §7.3)
)

// ward is Ward's authorization server and gateway on loopback listeners
// (plain HTTP, dev issuer), over a SQLite store, with DPoP nonces required
// by both. The gateway's only upstream is the demo API, wrapped to record
// what it receives.
type ward struct {
	t       *testing.T
	st      store.Store
	issuer  string
	gwURL   string
	secrets map[string]string

	mu       sync.Mutex
	requests map[string]int // authorization server requests per path
	seen     []http.Header  // headers the upstream received
}

func newWard(t *testing.T) *ward {
	t.Helper()
	ctx := context.Background()
	w := &ward{t: t, secrets: map[string]string{}, requests: map[string]int{}}
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	w.st = st
	t.Cleanup(func() { st.Close() })

	asSrv := httptest.NewUnstartedServer(nil)
	gwSrv := httptest.NewUnstartedServer(nil)
	admSrv := httptest.NewUnstartedServer(nil)
	w.issuer = "http://" + asSrv.Listener.Addr().String()
	w.gwURL = "http://" + gwSrv.Listener.Addr().String()

	cfg := config.Dev(dir)
	cfg.Issuer = w.issuer
	cfg.Listen = asSrv.Listener.Addr().String()
	cfg.DPoP.Nonce.Enabled = true
	// The openid-client script presents the rotated refresh token again at
	// once, with its DPoP key, to check reuse detection: within
	// tokens.refresh_token_reuse_grace that is a retry after a lost answer
	// and gets a new pair, so the window is off here.
	cfg.Tokens.RefreshTokenReuseGrace = 0
	g := demo.DevConfig(w.issuer)
	g.Listen, g.AdminListen = gwSrv.Listener.Addr().String(), admSrv.Listener.Addr().String()
	g.PublicURL = w.gwURL
	cfg.Gateway = g
	if err := cfg.ValidateGateway(); err != nil {
		t.Fatalf("gateway configuration: %v", err)
	}

	now := time.Now()
	for _, c := range []store.Client{
		{ID: appClient, Name: "openid-client", AuthMethod: oauth.AuthNone,
			GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, RedirectURIs: []string{callback},
			Scopes: []string{"demo:read"}, Audiences: []string{w.gwURL}, SenderConstraint: store.ConstraintDPoP},
		{ID: svcClient, Name: "Go SDK", AuthMethod: oauth.AuthSecretBasic,
			GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, RedirectURIs: []string{"https://unused.example/cb"},
			Scopes: []string{"read"}, Audiences: []string{rsAudience}, SenderConstraint: store.ConstraintDPoP},
		{ID: gwRSClient, Name: "resource server", AuthMethod: oauth.AuthSecretBasic,
			GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, RedirectURIs: []string{"https://unused.example/cb"},
			Scopes: []string{"read"}, Audiences: []string{w.gwURL}, IntrospectionSignedResponseAlg: store.AlgES256},
	} {
		secret, err := authz.CreateClient(ctx, st, &c, now)
		if err != nil {
			t.Fatal(err)
		}
		w.secrets[c.ID] = secret
	}
	ph, err := password.Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &store.User{Subject: testSubject, Username: testUser, PasswordHash: ph, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}

	var kek keys.KEK
	rand.Read(kek[:])
	km, err := keys.New(st, []keys.KEK{kek}, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.EnsureKey(ctx, now); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nonceSecret := make([]byte, 32)
	rand.Read(nonceSecret)
	as, err := authz.New(cfg, authz.Options{Store: st, Keys: km, Logger: logger, NonceSecret: nonceSecret})
	if err != nil {
		t.Fatal(err)
	}
	h := as.Handler()
	asSrv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.requests[r.URL.Path]++
		w.mu.Unlock()
		h.ServeHTTP(rw, r)
	})
	asSrv.Start()
	t.Cleanup(asSrv.Close)

	demoAPI := demo.Upstream()
	upstream := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen = append(w.seen, r.Header.Clone())
		w.mu.Unlock()
		demoAPI.ServeHTTP(rw, r)
	})
	gwNonceSecret := make([]byte, 32)
	rand.Read(gwNonceSecret)
	nonces, err := dpop.NewStatelessNonces(w.gwURL, time.Minute, gwNonceSecret)
	if err != nil {
		t.Fatal(err)
	}
	builtins := demo.Builtins() // the demo app of DevConfig's routes too
	builtins[config.BuiltinDemo] = upstream
	gw, err := gateway.New(&cfg.Gateway, gateway.Options{
		Issuer:    cfg.GatewayIssuer(),
		Logger:    logger,
		Nonces:    nonces,
		Upstreams: builtins,
	})
	if err != nil {
		t.Fatal(err)
	}
	gwCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(gwCtx, gwSrv.Listener, admSrv.Listener) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("gateway Serve: %v", err)
		}
	})
	return w
}

func (w *ward) count(path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests[path]
}

func (w *ward) upstreamSeen() []http.Header {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]http.Header(nil), w.seen...)
}

// browse is the user's browser on Ward's pages: it opens authURL, logs in
// as alice, allows on the consent page, and returns the redirect to the
// client's /callback without following it (the client has no listener;
// the test hands the URL to it).
func browse(authURL string) (*url.URL, error) {
	return wardtest.BrowserLogin(authURL, testUser, testPassword, "allow")
}

// script is a node script speaking JSON lines: it writes one object per
// line on stdout and reads lines on stdin.
type script struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte
	stderr *wardtest.SyncBuffer
}

// startScript runs node interop/name args... until the test ends.
func startScript(t *testing.T, node, name string, args ...string) *script {
	t.Helper()
	return startScriptEnv(t, nil, node, name, args...)
}

// startScriptEnv is startScript with env added to the environment.
func startScriptEnv(t *testing.T, env []string, node, name string, args ...string) *script {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(interopDir, name)}, args...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	s := &script{t: t, cmd: cmd, lines: make(chan []byte, 16), stderr: &wardtest.SyncBuffer{}}
	cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		s.stdin.Close()
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, s.stderr.String())
		}
	})
	return s
}

// next decodes the script's next line into out.
func (s *script) next(out any) {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			_ = s.cmd.Wait()
			s.t.Fatalf("%s ended (%v) before answering:\n%s", s.cmd.Args[1], s.cmd.ProcessState, s.stderr.String())
		}
		if err := json.Unmarshal(line, out); err != nil {
			s.t.Fatalf("%s: %v: %s", s.cmd.Args[1], err, line)
		}
	case <-time.After(60 * time.Second):
		s.t.Fatalf("%s: no answer in 60s:\n%s", s.cmd.Args[1], s.stderr.String())
	}
}

// send writes one line to the script.
func (s *script) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatal(err)
	}
}

// decodeJWT returns the header and claims of a compact JWS, unverified.
func decodeJWT(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	var hdr, cl map[string]any
	for i, out := range []*map[string]any{&hdr, &cl} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, cl
}
