package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/dpop"
)

// resourceServer is a fake DPoP resource server that checks every proof
// with Ward's dpop.Verifier and records what it saw.
type resourceServer struct {
	t   *testing.T
	srv *httptest.Server
	v   *dpop.Verifier
	mu  sync.Mutex
	// seen are the verified proofs, bodies the request bodies.
	seen   []*dpop.Proof
	bodies []string
	// nonce, when set, is required; an absent or other nonce gets a 401
	// use_dpop_nonce challenge with this one.
	nonce string
	// alwaysNewNonce answers every request with a fresh nonce demand.
	alwaysNewNonce bool
	// date, when set, is sent in the Date header.
	date func() time.Time
	// tokenStyle answers nonce demands as a token endpoint would (400
	// JSON) instead of a resource server (401 challenge).
	tokenStyle bool
}

func newResourceServer(t *testing.T) *resourceServer {
	rs := &resourceServer{t: t}
	v, err := dpop.NewVerifier(dpop.WithIATWindow(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rs.v = v
	rs.srv = httptest.NewServer(http.HandlerFunc(rs.serve))
	t.Cleanup(rs.srv.Close)
	return rs
}

func (rs *resourceServer) serve(w http.ResponseWriter, r *http.Request) {
	if rs.date != nil {
		w.Header().Set("Date", rs.date().UTC().Format(http.TimeFormat))
	}
	body, _ := io.ReadAll(r.Body)
	token := ""
	if s, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && s == "DPoP" {
		token = tok
	}
	p, err := rs.v.VerifyHTTP(r.Context(), r, token, "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	rs.mu.Lock()
	rs.seen = append(rs.seen, p)
	rs.bodies = append(rs.bodies, string(body))
	n := len(rs.seen)
	want := rs.nonce
	if rs.alwaysNewNonce {
		want = fmt.Sprintf("n-%d", n)
	}
	rs.mu.Unlock()
	if want != "" && p.Nonce != want {
		w.Header().Set("DPoP-Nonce", want)
		if rs.tokenStyle {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"use_dpop_nonce","error_description":"nonce required"}`)
			return
		}
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "ok")
}

func (rs *resourceServer) proofs() []*dpop.Proof {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]*dpop.Proof(nil), rs.seen...)
}

func do(t *testing.T, tr http.RoundTripper, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestTransportProof: each request gets a fresh proof for its method and
// URL (query stripped, RFC 9449 §4.2), with ath only when an
// "Authorization: DPoP" token is sent, and signed by the Transport's key.
func TestTransportProof(t *testing.T) {
	rs := newResourceServer(t)
	tr, err := NewTransport()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, token, auth string
		wantATH                   bool
	}{
		{"no token", "GET", "", "", false},
		{"dpop token", "POST", "tok-1", "DPoP tok-1", true},
		{"bearer token", "GET", "", "Bearer tok-2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rs.proofs())
			req, _ := http.NewRequest(tc.method, rs.srv.URL+"/api?q=1", strings.NewReader("x"))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, body := do(t, tr, req)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			p := rs.proofs()[before]
			if p.Thumbprint != tr.Thumbprint() || p.Method != tc.method || p.URL != rs.srv.URL+"/api" || (p.ATH != "") != tc.wantATH {
				t.Fatalf("proof %+v", p)
			}
			if tc.wantATH && p.ATH != dpop.ATH(tc.token) {
				t.Fatalf("ath %s, want %s", p.ATH, dpop.ATH(tc.token))
			}
			if req.Header.Get("DPoP") != "" {
				t.Fatal("RoundTrip modified the caller's request")
			}
		})
	}
	if ps := rs.proofs(); ps[0].JTI == ps[1].JTI {
		t.Fatal("jti reused")
	}
}

// TestTransportNonceRetry: a use_dpop_nonce answer, from a resource server
// (401 challenge, RFC 9449 §9) or a token endpoint (400 JSON, §8), is
// retried once with the nonce and the same body; the nonce is kept per
// origin for later requests; a second demand is not retried again; a body
// that cannot be replayed is not retried.
func TestTransportNonceRetry(t *testing.T) {
	for _, tokenStyle := range []bool{false, true} {
		t.Run(map[bool]string{false: "resource", true: "token-endpoint"}[tokenStyle], func(t *testing.T) {
			rs := newResourceServer(t)
			rs.nonce, rs.tokenStyle = "n-1", tokenStyle
			other := newResourceServer(t)
			tr, _ := NewTransport()

			req, _ := http.NewRequest("POST", rs.srv.URL+"/x", strings.NewReader("grant_type=x"))
			resp, body := do(t, tr, req)
			if resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			ps := rs.proofs()
			if len(ps) != 2 || ps[0].Nonce != "" || ps[1].Nonce != "n-1" || rs.bodies[1] != "grant_type=x" {
				t.Fatalf("%d proofs, bodies %q", len(ps), rs.bodies)
			}
			// Remembered: one request now.
			req, _ = http.NewRequest("GET", rs.srv.URL+"/y", nil)
			do(t, tr, req)
			if ps = rs.proofs(); len(ps) != 3 || ps[2].Nonce != "n-1" {
				t.Fatalf("%d proofs, last nonce %q", len(ps), ps[len(ps)-1].Nonce)
			}
			// Per origin: another server does not get it.
			req, _ = http.NewRequest("GET", other.srv.URL+"/", nil)
			do(t, tr, req)
			if p := other.proofs()[0]; p.Nonce != "" {
				t.Fatalf("nonce %q leaked to another origin", p.Nonce)
			}
			if tr.Nonce(rs.srv.URL+"/anything") != "n-1" || tr.Nonce(other.srv.URL) != "" {
				t.Fatal("Nonce() per origin")
			}

			// Once only.
			rs2 := newResourceServer(t)
			rs2.alwaysNewNonce, rs2.tokenStyle = true, tokenStyle
			req, _ = http.NewRequest("GET", rs2.srv.URL+"/", nil)
			resp, body = do(t, tr, req)
			if n := len(rs2.proofs()); n != 2 {
				t.Fatalf("%d attempts, want 2", n)
			}
			if tokenStyle && (resp.StatusCode != 400 || !strings.Contains(body, "use_dpop_nonce")) {
				t.Fatalf("the final answer must be readable: %d %q", resp.StatusCode, body)
			}
			if !tokenStyle && resp.StatusCode != 401 {
				t.Fatalf("status %d", resp.StatusCode)
			}

			// Not replayable: no retry.
			rs3 := newResourceServer(t)
			rs3.nonce, rs3.tokenStyle = "n-3", tokenStyle
			req, _ = http.NewRequest("POST", rs3.srv.URL+"/", io.NopCloser(strings.NewReader("once")))
			if req.GetBody != nil {
				t.Fatal("test needs a request without GetBody")
			}
			resp, _ = do(t, tr, req)
			if n := len(rs3.proofs()); n != 1 || resp.StatusCode == 200 {
				t.Fatalf("%d attempts, status %d: want 1 and the refusal", n, resp.StatusCode)
			}
			if tr.Nonce(rs3.srv.URL) != "n-3" {
				t.Fatal("nonce not remembered after a request that could not be retried")
			}
		})
	}
}

// TestTransportOtherErrorsUntouched: a 400 that is not use_dpop_nonce is
// returned as is, body included, without a retry.
func TestTransportOtherErrorsUntouched(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("DPoP-Nonce", "fresh")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant"}`)
	}))
	defer srv.Close()
	tr, _ := NewTransport()
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("a=b"))
	resp, body := do(t, tr, req)
	if calls != 1 || resp.StatusCode != 400 || body != `{"error":"invalid_grant"}` {
		t.Fatalf("calls %d status %d body %q", calls, resp.StatusCode, body)
	}
}

// TestTransportClockSkew: the proof's iat follows the server's Date
// header, within the bound; differences under 2 s (Date's resolution) are
// ignored.
func TestTransportClockSkew(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name    string
		offset  time.Duration
		maxSkew time.Duration
		want    time.Duration
	}{
		{"ahead", 90 * time.Second, DefaultMaxClockSkew, 90 * time.Second},
		{"behind", -3 * time.Minute, DefaultMaxClockSkew, -3 * time.Minute},
		{"clamped", 2 * time.Hour, 5 * time.Minute, 5 * time.Minute},
		{"clamped behind", -2 * time.Hour, time.Minute, -time.Minute},
		{"within resolution", 1500 * time.Millisecond, DefaultMaxClockSkew, 0},
		{"disabled", 90 * time.Second, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := newResourceServer(t)
			rs.date = func() time.Time { return now.Add(tc.offset) }
			tr, _ := NewTransport(WithClock(clock), WithMaxClockSkew(tc.maxSkew))
			for range 2 {
				req, _ := http.NewRequest("GET", rs.srv.URL, nil)
				do(t, tr, req)
			}
			ps := rs.proofs()
			if !ps[0].IssuedAt.Equal(now) {
				t.Fatalf("first proof iat %v, want the local clock %v", ps[0].IssuedAt, now)
			}
			if got := ps[1].IssuedAt.Sub(now); got != tc.want {
				t.Fatalf("second proof iat offset %v, want %v", got, tc.want)
			}
			if tr.ClockSkew(rs.srv.URL) != tc.want {
				t.Fatalf("ClockSkew %v", tr.ClockSkew(rs.srv.URL))
			}
		})
	}
}

// TestTransportAnySigner: any crypto.Signer Ward's dpop package supports
// signs proofs that Ward's verifier accepts.
func TestTransportAnySigner(t *testing.T) {
	rs := newResourceServer(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsk, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, k := range map[string]crypto.Signer{"P-384": p384, "Ed25519": ed, "RSA": rsk, "opaque": opaqueSigner{p384}} {
		t.Run(name, func(t *testing.T) {
			tr, err := NewTransport(WithKey(k))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", rs.srv.URL, nil)
			if resp, body := do(t, tr, req); resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			want, _ := dpop.Thumbprint(k.Public())
			if tr.Thumbprint() != want {
				t.Fatal("thumbprint")
			}
		})
	}
	if _, err := NewTransport(WithKey(opaqueSigner{})); err == nil {
		t.Fatal("a signer without a usable public key was accepted")
	}
}

// opaqueSigner hides the concrete key type, as a KMS signer would.
type opaqueSigner struct{ k crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey {
	if o.k == nil {
		return nil
	}
	return o.k.Public()
}
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	if o.k == nil {
		return nil, errors.New("no key")
	}
	return o.k.Sign(r, d, opts)
}

// TestHTTPClient: the client from Client.HTTPClient sends the token as
// "Authorization: DPoP" with a proof carrying its ath, and gets the token
// with the request's context.
func TestHTTPClient(t *testing.T) {
	rs := newResourceServer(t)
	c, err := New(Endpoint{TokenURL: "http://127.0.0.1:1/token"}, "x")
	if err != nil {
		t.Fatal(err)
	}
	src := &ctxSource{tok: "at-1"}
	hc := c.HTTPClient(src)
	ctx := context.WithValue(context.Background(), ctxKey{}, "mine")
	req, _ := http.NewRequestWithContext(ctx, "GET", rs.srv.URL, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if p := rs.proofs()[0]; p.ATH != dpop.ATH("at-1") || p.Thumbprint != c.Thumbprint() {
		t.Fatalf("proof %+v", p)
	}
	if src.sawCtx != "mine" {
		t.Fatal("the token was not fetched with the request's context")
	}
}

type ctxKey struct{}

type ctxSource struct {
	tok    string
	sawCtx any
}

func (s *ctxSource) Token() (*oauth2.Token, error) { return nil, errors.New("Token called") }

func (s *ctxSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	s.sawCtx = ctx.Value(ctxKey{})
	return &oauth2.Token{AccessToken: s.tok, TokenType: "DPoP"}, nil
}
