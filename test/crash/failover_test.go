package crash

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/oauth"
)

// failoverWorkers is how many refresh-token families rotate during the
// failover; failoverDetect is how long the primary stays dead before the
// standby is promoted (a failover manager's detection time).
const (
	failoverWorkers = 4
	failoverDetect  = time.Second
)

// TestPostgresFailover runs `ward serve` on a PostgreSQL primary and its
// synchronous streaming standby (wardtest.StartPostgresPair), named
// together in one DSN with target_session_attrs=read-write. Under a load
// of refresh-token rotations and client-credentials grants, the primary
// is killed (pg_ctl stop -m immediate) and, after failoverDetect, the
// standby promoted. Without restarting Ward:
//
//   - every answer is 200 or 503 temporarily_unavailable (RFC 6749 §5.2),
//     never a 500 and never an invalid_grant for a token the client
//     holds; after the promotion requests succeed again;
//   - no acknowledged token is lost: the last refresh token each family
//     received works on the new primary, and every access token received
//     verifies against its JWKS;
//   - no refresh token is usable twice: once its successor has been used,
//     presenting it again is refused and revokes the family.
//
// It logs the unavailability window each client saw.
func TestPostgresFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers and the ward binary")
	}
	pair := wardtest.StartPostgresPair(t)
	dir := t.TempDir()
	bin, err := wardtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, env, cfgPath := setup(t, dir, pair.DSN(), "store: {driver: postgres, timeout: 2s}\n")
	srv := wardtest.StartNamed(t, "ward", bin, env, "serve", "--config", cfgPath)
	c.wait(srv)

	fams := make([]*family, failoverWorkers)
	for i := range fams {
		sg := newSigner(t)
		code, v := c.authorize()
		r := c.token(codeForm(code, v), sg)
		if r.Status != http.StatusOK || r.Str("refresh_token") == "" {
			t.Fatalf("code exchange: %v", r)
		}
		fams[i] = &family{signer: sg, tokens: []string{r.Str("refresh_token")}}
	}

	var (
		mu        sync.Mutex
		access    []string
		windows   []time.Duration // per worker: first refusal to next 200
		unavail   atomic.Int64
		rotations atomic.Int64
		promoted  atomic.Bool
		after     atomic.Int64 // rotations after the promotion
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	keep := func(tok string) { mu.Lock(); access = append(access, tok); mu.Unlock() }
	// worker calls req until stop, each answer 200 or 503, and records
	// the longest stretch from a 503 to the next 200.
	worker := func(what string, req func() (*response, bool)) {
		var since time.Time
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, ok := req()
			switch {
			case !ok:
				return
			case r.Status == http.StatusOK:
				if !since.IsZero() {
					mu.Lock()
					windows = append(windows, time.Since(since))
					mu.Unlock()
					since = time.Time{}
				}
			case r.Status == http.StatusServiceUnavailable && r.Str("error") == "temporarily_unavailable":
				unavail.Add(1)
				if since.IsZero() {
					since = time.Now()
				}
				time.Sleep(50 * time.Millisecond)
			default:
				t.Errorf("%s during the failover: %v, want 200 or 503 temporarily_unavailable", what, r)
				return
			}
		}
	}
	for _, f := range fams {
		wg.Go(func() {
			worker("refresh", func() (*response, bool) {
				r, err := c.tryToken(refreshForm(f.last()), f.signer)
				if err != nil {
					t.Errorf("refresh: %v", err)
					return nil, false
				}
				if r.Status == http.StatusOK {
					// A 503 never rotated the token for good: either it
					// was not committed, or its answer was lost and this
					// retry with the same key is a grace re-issue.
					f.tokens = append(f.tokens, r.Str("refresh_token"))
					keep(r.Str("access_token"))
					rotations.Add(1)
					if promoted.Load() {
						after.Add(1)
					}
				}
				return r, true
			})
		})
	}
	cc := newSigner(t)
	wg.Go(func() {
		worker("client_credentials", func() (*response, bool) {
			r, err := c.tryToken(url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}, cc)
			if err != nil {
				t.Errorf("client_credentials: %v", err)
				return nil, false
			}
			if r.Status == http.StatusOK {
				keep(r.Str("access_token"))
			}
			return r, true
		})
	})

	halt := func(what string) { close(stop); wg.Wait(); t.Fatalf("timed out waiting for %s", what) }
	if !waitFor(func() bool { return rotations.Load() >= 3*failoverWorkers }) {
		halt("rotations before the failover")
	}
	killed := time.Now()
	pair.KillPrimary()
	time.Sleep(failoverDetect)
	pair.Promote()
	promotedAt := time.Now()
	promoted.Store(true)
	if !waitFor(func() bool { return after.Load() >= 3*failoverWorkers }) {
		halt("rotations after the promotion")
	}
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var longest time.Duration
	for _, w := range windows {
		longest = max(longest, w)
	}
	t.Logf("%d rotations, %d answered 503 during the switch; primary dead %v before the promotion; longest client-seen unavailability %v (from its first 503 to its next 200; the promotion itself took %v)",
		rotations.Load(), unavail.Load(), promotedAt.Sub(killed).Round(time.Millisecond), longest.Round(time.Millisecond),
		promotedAt.Sub(killed.Add(failoverDetect)).Round(time.Millisecond))

	jwks := c.jwks()
	for _, tok := range access {
		verifyAccessToken(t, jwks, c.issuer, tok)
	}
	for i, f := range fams {
		last := f.last()
		r := c.token(refreshForm(last), f.signer)
		if r.Status != http.StatusOK {
			t.Errorf("family %d: its last refresh token, after the failover: %v", i, r)
			continue
		}
		if n := c.token(refreshForm(r.Str("refresh_token")), f.signer); n.Status != http.StatusOK {
			t.Errorf("family %d: the successor of its last token: %v", i, n)
		}
		wantInvalidGrant(t, c.token(refreshForm(last), f.signer), "family %d: last token used twice", i)
		for j, old := range f.tokens[:len(f.tokens)-1] {
			wantInvalidGrant(t, c.token(refreshForm(old), f.signer), "family %d: earlier token %d", i, j)
		}
	}
	if srv.Exited() {
		t.Error("ward exited during the failover")
	}
}

// waitFor polls cond for up to 20 s and reports whether it became true.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
