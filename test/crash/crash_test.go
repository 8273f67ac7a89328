package crash

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
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

	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/oauth"

	jose "github.com/go-jose/go-jose/v4"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/clustertest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store/sqlstore"
)

const (
	svcClient   = "svc" // confidential, client_credentials
	webClient   = "web" // public, authorization_code + refresh_token
	webRedirect = "http://127.0.0.1/cb"
	audience    = "https://api.example"
	userName    = "alice"
	userPass    = "correct horse battery staple"
	svcSecret   = "svc-secret-for-the-crash-test"

	refreshWorkers = 8
	serviceWorkers = 3
)

func TestKillDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ward and kills it mid-load: skipped under -short")
	}
	dir := t.TempDir()
	bin, err := wardtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("SQLite", func(t *testing.T) {
		d := t.TempDir()
		killDuringLoad(t, bin, d, "sqlite", "", "data_dir: "+d+"\nstore: {driver: sqlite}\n")
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := wardtest.PostgresSchema(t, "ward_crash_").String()
		killDuringLoad(t, bin, t.TempDir(), "postgres", dsn, "store: {driver: postgres}\n")
	})
}

// --- the test ---

// attempt is one refresh request of a worker and what came back.
type attempt struct {
	sent     string // the refresh token presented
	status   int    // 0: no response
	refused  bool   // the connection was refused: the request never reached the server
	received string // the new refresh token of a 200
}

// family is one grant, rotated by one worker.
type family struct {
	signer   *dpop.Signer
	tokens   []string // every refresh token received in a 200, in order
	attempts []attempt
}

// last is the newest refresh token the client holds.
func (f *family) last() string { return f.tokens[len(f.tokens)-1] }

// uncertain reports whether a request with the last token may have reached
// the server without its response reaching the client.
func (f *family) uncertain() bool {
	for i := len(f.attempts) - 1; i >= 0; i-- {
		a := f.attempts[i]
		if a.sent != f.last() {
			break
		}
		if a.status == 0 && !a.refused {
			return true
		}
	}
	return false
}

func killDuringLoad(t *testing.T, bin, dir, driver, dsn, storeConf string) {
	c, env, cfgPath := setup(t, dir, dsn, storeConf)
	issuer := c.issuer

	srv := wardtest.StartNamed(t, "ward-1", bin, env, "serve", "--config", cfgPath)
	c.wait(srv)

	// One grant per refresh worker, through the login flow.
	fams := make([]*family, refreshWorkers)
	for i := range fams {
		sg := newSigner(t)
		code, v := c.authorize()
		r := c.token(codeForm(code, v), sg)
		if r.Status != http.StatusOK || r.Str("refresh_token") == "" {
			t.Fatalf("code exchange: %v", r)
		}
		fams[i] = &family{signer: sg, tokens: []string{r.Str("refresh_token")}}
	}

	// The load. Workers stop at their first request that got no answer.
	var (
		mu        sync.Mutex
		access    []string // access tokens whose response reached a client
		rotations atomic.Int64
		wg        sync.WaitGroup
		killed    atomic.Bool
	)
	keep := func(tok string) { mu.Lock(); access = append(access, tok); mu.Unlock() }
	for n, f := range fams {
		slow := n%2 == 1
		wg.Go(func() {
			for i := 0; i < 10000; i++ {
				rt := f.last()
				r, err := c.tryToken(refreshForm(rt), f.signer)
				if err != nil {
					f.attempts = append(f.attempts, attempt{sent: rt, refused: errors.Is(err, syscall.ECONNREFUSED)})
					return
				}
				a := attempt{sent: rt, status: r.Status}
				if r.Status == http.StatusOK {
					a.received = r.Str("refresh_token")
					if a.received == "" || r.Str("access_token") == "" {
						t.Errorf("refresh: 200 without tokens: %v", r)
						return
					}
					f.tokens = append(f.tokens, a.received)
					keep(r.Str("access_token"))
					rotations.Add(1)
				}
				f.attempts = append(f.attempts, a)
				if r.Status != http.StatusOK {
					if !killed.Load() {
						t.Errorf("refresh before the kill: %v", r)
					}
					return
				}
				if slow { // so that some workers are idle at the kill
					time.Sleep(time.Duration(mrand.IntN(60)) * time.Millisecond)
				}
			}
		})
	}
	var ccOK atomic.Int64
	for range serviceWorkers {
		sg := newSigner(t)
		wg.Go(func() {
			for i := 0; i < 10000; i++ {
				r, err := c.tryToken(url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}, sg)
				if err != nil {
					return
				}
				if r.Status != http.StatusOK {
					if !killed.Load() {
						t.Errorf("client_credentials before the kill: %v", r)
					}
					return
				}
				keep(r.Str("access_token"))
				ccOK.Add(1)
			}
		})
	}
	// Kill once the load is well under way, at a random moment.
	for deadline := time.Now().Add(10 * time.Second); rotations.Load() < 3*refreshWorkers && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(50+mrand.IntN(300)) * time.Millisecond)
	killed.Store(true)
	srv.Kill()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if rotations.Load() < 3*refreshWorkers {
		t.Fatalf("only %d rotations before the kill", rotations.Load())
	}
	t.Logf("before the kill: %d rotations, %d client_credentials tokens", rotations.Load(), ccOK.Load())

	// The database after the crash, the server down: the store opens and
	// the CLI reads the keys.
	checkKeysList(t, bin, env, cfgPath)

	srv = wardtest.StartNamed(t, "ward-2", bin, env, "serve", "--config", cfgPath)
	c.wait(srv)

	// (3) Access tokens verify against the restarted server's JWKS.
	jwks := c.jwks()
	for _, tok := range access {
		verifyAccessToken(t, jwks, issuer, tok)
	}

	// (1) and (2) per family.
	var working, rescued, revoked, inflight int
	for _, f := range fams {
		if f.uncertain() {
			inflight++
		}
	}
	revokedFams := map[int]bool{}
	for i, f := range fams {
		last := f.last()
		r := c.token(refreshForm(last), f.signer)
		switch {
		case r.Status == http.StatusOK:
			// Not rotated before the kill; or rotated by the request in
			// flight, whose answer was lost, and re-issued now within
			// tokens.refresh_token_reuse_grace (same DPoP key, successor
			// unused).
			working++
			if f.uncertain() {
				rescued++
			}
			next := r.Str("refresh_token")
			// The newest token rotates; then the last one again is a
			// reuse (its successor was used), which revokes the family.
			newest := c.token(refreshForm(next), f.signer)
			if newest.Status != http.StatusOK {
				t.Errorf("family %d: the token of the refresh after the restart: %v", i, newest)
			}
			wantInvalidGrant(t, c.token(refreshForm(last), f.signer), "family %d: last token used twice", i)
			wantInvalidGrant(t, c.token(refreshForm(newest.Str("refresh_token")), f.signer), "family %d: newest token after a replay", i)
		case f.uncertain() && r.Status == http.StatusBadRequest && r.Str("error") == "invalid_grant":
			// A request with it was in flight at the kill: the server may
			// have rotated it, so this is a replay and revokes the family
			// (outside the grace window).
			revoked++
		default:
			t.Errorf("family %d: the last refresh token it received (rotation %d, not in flight at the kill) was refused after the restart: %v",
				i, len(f.tokens)-1, r)
			continue
		}
		revokedFams[i] = true
		// Every earlier token is refused.
		for j, old := range f.tokens[:len(f.tokens)-1] {
			wantInvalidGrant(t, c.token(refreshForm(old), f.signer), "family %d: earlier token %d", i, j)
		}
		// And the newest of the family is refused too: the family is revoked.
		wantInvalidGrant(t, c.token(refreshForm(last), f.signer), "family %d: last token after the replays", i)
	}
	// The server logs each grace re-issue: a family whose rotation was
	// committed but whose answer was lost at the kill, and which is live.
	reissued := strings.Count(srv.Output(), "lost answer")
	t.Logf("after the restart: %d families' last token worked (%d had a refresh in flight at the kill, %d were re-issued within the grace window), %d were revoked (of %d in flight); %d access tokens verified",
		working, rescued, reissued, revoked, inflight, len(access))

	srv.Stop()

	// (4) The database: no family has two unrotated refresh tokens, every
	// family the test revoked is revoked.
	checkDatabase(t, driver, dir, dsn, len(fams))
	checkKeysList(t, bin, env, cfgPath)
}

// setup writes the configuration of the crash tests' `ward serve` (TLS on
// loopback, the service and web clients, alice) into dir and returns a
// connection to its issuer, its environment and the file's path.
func setup(t *testing.T, dir, dsn, storeConf string) (*conn, []string, string) {
	p := mtlstest.Loopback(t, dir)
	addr := wardtest.FreeAddr(t)
	issuer := "https://" + addr
	env := []string{
		"WARD_FLOW_KEY=" + wardtest.RandKey(),
		"WARD_KEY_ENCRYPTION_KEY=" + wardtest.RandKey(),
		"WARD_TEST_SVC_SECRET=" + svcSecret,
		"WARD_TEST_ALICE_PASSWORD=" + userPass,
		"SSL_CERT_FILE=" + p.CAFile,
	}
	if dsn != "" {
		env = append(env, "WARD_STORE_DSN="+dsn)
	}
	cfgPath := filepath.Join(dir, "ward.yaml")
	cfg := fmt.Sprintf(`issuer: %s
listen: %s
tls: {cert_file: %s, key_file: %s}
%sclients:
  - id: %s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%s]
  - id: %s
    auth_method: none
    redirect_uris: [%s]
    grant_types: [authorization_code, refresh_token]
    scopes: [demo:read]
    audiences: [%s]
users:
  - {subject: u-alice, username: %s, password_env: WARD_TEST_ALICE_PASSWORD}
# The load comes from one address, faster than the default per-IP rates
# allow; this test is about crash safety, not throttling.
rate_limits: {token: {ip: {off: true}}, par: {ip: {off: true}}, login: {ip: {off: true}}}
`, issuer, addr, p.CertFile, p.KeyFile, storeConf, svcClient, audience, webClient, webRedirect, audience, userName)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &conn{t: t, issuer: issuer, client: &http.Client{
		Timeout: 10 * time.Second,
		// No keep-alive: each request dials, so that a request made after
		// the kill is refused at connect and known not to have arrived.
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Pool}, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}

	return c, env, cfgPath
}

func wantInvalidGrant(t *testing.T, r *response, format string, args ...any) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Errorf(format+": got %v, want 400 invalid_grant", append(args, r)...)
	}
}

func checkKeysList(t *testing.T, bin string, env []string, cfgPath string) {
	t.Helper()
	cmd := exec.Command(bin, "keys", "list", "--config", cfgPath)
	cmd.Env = append(wardtest.CleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "current") {
		t.Fatalf("ward keys list: %v\n%s", err, out)
	}
}

func checkDatabase(t *testing.T, driver, dir, dsn string, families int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var db *sql.DB
	switch driver {
	case "sqlite":
		path := filepath.Join(dir, "ward.db")
		st, err := sqlstore.OpenSQLite(ctx, path)
		if err != nil {
			t.Fatalf("the store does not open: %v", err)
		}
		st.Close()
		if db, err = sql.Open("sqlite", path); err != nil {
			t.Fatal(err)
		}
		var ok string
		if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			t.Errorf("PRAGMA integrity_check: %q %v", ok, err)
		}
	case "postgres":
		st, err := sqlstore.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatalf("the store does not open: %v", err)
		}
		st.Close()
		if db, err = sql.Open("pgx", dsn); err != nil {
			t.Fatal(err)
		}
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT family_id, COUNT(*) FROM refresh_tokens WHERE rotated_at IS NULL GROUP BY family_id HAVING COUNT(*) > 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		t.Errorf("family %s has %d unrotated refresh tokens", id, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	var total, unrevoked, orphans int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM families WHERE client_id = 'web'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM families WHERE revoked_at IS NULL`).Scan(&unrevoked); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM refresh_tokens WHERE family_id NOT IN (SELECT id FROM families)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if total != families || unrevoked != 0 || orphans != 0 {
		t.Errorf("database: %d families (want %d), %d not revoked (want 0), %d orphan refresh tokens (want 0)", total, families, unrevoked, orphans)
	}
}

// verifyAccessToken checks tok's signature with the key of its kid in
// jwks, and its issuer.
func verifyAccessToken(t *testing.T, jwks jose.JSONWebKeySet, issuer, tok string) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		t.Errorf("access token does not parse: %v", err)
		return
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := jwks.Key(kid)
	if len(keys) == 0 {
		t.Errorf("access token signed by kid %q, which the restarted server does not publish", kid)
		return
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Errorf("access token (kid %q) does not verify: %v", kid, err)
		return
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Iss != issuer {
		t.Errorf("access token iss %q (%v), want %q", claims.Iss, err, issuer)
	}
}

// --- requests ---

type conn struct {
	t      *testing.T
	issuer string
	client *http.Client
}

// response is a decoded answer.
type response = clustertest.Response

// wait polls the metadata until it answers 200.
func (c *conn) wait(p *wardtest.Process) {
	c.t.Helper()
	p.WaitReady(c.t, c.client, c.issuer+authz.PathMetadata)
}

func (c *conn) try(req *http.Request, jar http.CookieJar) (*response, error) {
	hc := *c.client
	hc.Jar = jar
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	return clustertest.Read(resp), nil
}

func (c *conn) do(req *http.Request, jar http.CookieJar) *response {
	c.t.Helper()
	r, err := c.try(req, jar)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// tryToken posts form to /token with a fresh DPoP proof of sg; safe for
// concurrent use, it reports transport errors.
func (c *conn) tryToken(form url.Values, sg *dpop.Signer) (*response, error) {
	proof, err := sg.Proof(http.MethodPost, c.issuer+authz.PathToken)
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequest(http.MethodPost, c.issuer+authz.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", proof)
	if form.Get("grant_type") == string(oauth.GrantClientCredentials) {
		req.SetBasicAuth(svcClient, svcSecret)
	}
	return c.try(req, nil)
}

func (c *conn) token(form url.Values, sg *dpop.Signer) *response {
	c.t.Helper()
	r, err := c.tryToken(form, sg)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

func (c *conn) jwks() jose.JSONWebKeySet {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.issuer+authz.PathJWKS, nil)
	r := c.do(req, nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil || len(set.Keys) == 0 {
		c.t.Fatalf("JWKS: %v: %v", r, err)
	}
	return set
}

var newSigner = clustertest.NewSigner

func codeForm(code, verifier string) url.Values {
	return clustertest.CodeForm(webClient, webRedirect, code, verifier)
}

func refreshForm(rt string) url.Values { return clustertest.RefreshForm(webClient, rt) }

// authorize runs the login flow for the public client and returns the
// code and the PKCE verifier.
func (c *conn) authorize() (string, string) {
	c.t.Helper()
	f := &clustertest.Flow{T: c.t, Issuer: c.issuer, WebClient: webClient, WebRedirect: webRedirect, User: userName, Password: userPass}
	send, b := clustertest.Via(c.t, c.client), f.NewBrowser()
	u, v := f.AuthorizeURL()
	r := b.Login(send, b.Get(send, u))
	if clustertest.IsConsentPage(r) {
		r = b.Consent(send, r)
	}
	return f.CodeFrom(r), v
}
