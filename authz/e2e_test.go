package authz

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
)

// dpopTransport attaches a DPoP proof to every request, remembers the
// server's DPoP-Nonce and retries once on use_dpop_nonce (RFC 9449 §8).
type dpopTransport struct {
	base   http.RoundTripper
	signer *dpop.Signer
	mu     sync.Mutex
	nonce  string
	sent   int
}

func (d *dpopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		d.mu.Lock()
		var opts []dpop.ProofOption
		if d.nonce != "" {
			opts = append(opts, dpop.WithNonce(d.nonce))
		}
		d.sent++
		d.mu.Unlock()
		p, err := d.signer.Proof(r.Method, r.URL.String(), opts...)
		if err != nil {
			return nil, err
		}
		r.Header.Set("DPoP", p)
		resp, err := d.base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			d.mu.Lock()
			d.nonce = n
			d.mu.Unlock()
			if resp.StatusCode == http.StatusBadRequest && attempt == 0 && req.GetBody != nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(b), "use_dpop_nonce") {
					continue
				}
				resp.Body = io.NopCloser(strings.NewReader(string(b)))
			}
		}
		return resp, nil
	}
}

func (h *harness) dpopContext(s *dpop.Signer) (context.Context, *dpopTransport) {
	tr := &dpopTransport{base: h.srv.Client().Transport, signer: s}
	return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: tr}), tr
}

// TestEndToEndAuthorizationCodePublic drives the whole flow as a native
// app would: golang.org/x/oauth2 with PKCE S256, a loopback redirect on an
// ephemeral port, dpop_jkt, the login and consent pages read as a user
// agent would, DPoP-bound tokens, then a DPoP-bound refresh.
func TestEndToEndAuthorizationCodePublic(t *testing.T) {
	for _, nonces := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-nonce", true: "nonce"}[nonces], func(t *testing.T) {
			h := newHarness(t, func(c *config.Config) { c.DPoP.Nonce.Enabled = nonces })
			signer := h.newSigner()
			conf := &oauth2.Config{
				ClientID:    "spa",
				Endpoint:    oauth2.Endpoint{AuthURL: h.issuer + PathAuthorize, TokenURL: h.issuer + PathToken, AuthStyle: oauth2.AuthStyleInParams},
				RedirectURL: "http://127.0.0.1:49152/cb", // any port: RFC 8252 §7.3
				Scopes:      []string{"read"},
			}
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("xyz-state", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("dpop_jkt", signer.Thumbprint()))

			b := h.newBrowser()
			r := b.get(authURL)
			r = b.login(r, "alice", testPassword)
			r = b.consent(r, "allow")
			q := redirectQuery(t, r)
			if got := r.header.Get("Location"); !strings.HasPrefix(got, "http://127.0.0.1:49152/cb?") {
				t.Fatalf("redirected to %q", got)
			}
			if q.Get("state") != "xyz-state" || q.Get("iss") != h.issuer || q.Get("code") == "" {
				t.Fatalf("authorization response %v: want code, state and iss (RFC 9207)", q)
			}

			ctx, tr := h.dpopContext(signer)
			tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "DPoP" || tok.RefreshToken == "" {
				t.Fatalf("token_type %q refresh %v: want DPoP and a refresh token", tok.TokenType, tok.RefreshToken != "")
			}
			if nonces && tr.nonce == "" {
				t.Fatal("no DPoP-Nonce received")
			}
			hdr, cl := decodeJWT(t, tok.AccessToken)
			if hdr["typ"] != "at+jwt" || hdr["alg"] != "ES256" {
				t.Errorf("header %v: want typ at+jwt, alg ES256 (RFC 9068 §2.1)", hdr)
			}
			cnf, _ := cl["cnf"].(map[string]any)
			if cl["sub"] != "u-alice" || cl["client_id"] != "spa" || cl["scope"] != "read" || cl["aud"] != testAPI || cl["iss"] != h.issuer || cnf["jkt"] != signer.Thumbprint() {
				t.Errorf("claims %v", cl)
			}
			for _, k := range []string{"jti", "iat", "exp"} {
				if cl[k] == nil {
					t.Errorf("claim %s missing", k)
				}
			}

			// Refresh with the same key: rotation.
			h.clk.Advance(11 * time.Minute)
			ts := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: h.clk.Now().Add(-time.Minute)})
			tok2, err := ts.Token()
			if err != nil {
				t.Fatal(err)
			}
			if tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
				t.Fatal("refresh token not rotated")
			}

			// Second authorization: consent remembered, no consent page.
			q = h.authorize(b, authParamsFor(conf, "again", verifier))
			if q.Get("code") == "" || q.Get("iss") != h.issuer {
				t.Fatalf("second authorization: %v", q)
			}
		})
	}
}

func authParamsFor(conf *oauth2.Config, state, verifier string) map[string][]string {
	p := authParams(conf.ClientID, conf.RedirectURL, oauth2.S256ChallengeFromVerifier(verifier))
	p.Set("scope", strings.Join(conf.Scopes, " "))
	p.Set("state", state)
	return p
}

// TestEndToEndAuthorizationCodeConfidential: a confidential client with
// client_secret_basic, through x/oauth2, DPoP on the token request.
func TestEndToEndAuthorizationCodeConfidential(t *testing.T) {
	h := newHarness(t)
	signer := h.newSigner()
	conf := &oauth2.Config{
		ClientID: "web", ClientSecret: h.secrets["web"],
		Endpoint:    oauth2.Endpoint{AuthURL: h.issuer + PathAuthorize, TokenURL: h.issuer + PathToken, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: webRedirect,
		Scopes:      []string{"read", "write"},
	}
	verifier := oauth2.GenerateVerifier()
	b := h.newBrowser()
	q := h.authorize(b, authParamsFor(conf, "s1", verifier))
	ctx, _ := h.dpopContext(signer)
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, cl := decodeJWT(t, tok.AccessToken)
	if tok.TokenType != "DPoP" || cl["scope"] != "read write" {
		t.Fatalf("type %q claims %v", tok.TokenType, cl)
	}
	ts := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: h.clk.Now().Add(-time.Minute)})
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
}

// TestEndToEndClientCredentials uses golang.org/x/oauth2/clientcredentials
// with client_secret_post and a DPoP proof.
func TestEndToEndClientCredentials(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.DPoP.Nonce.Enabled = true })
	signer := h.newSigner()
	cc := &clientcredentials.Config{
		ClientID: "svc", ClientSecret: h.secrets["svc"], TokenURL: h.issuer + PathToken,
		Scopes: []string{"read"}, AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: map[string][]string{"resource": {"https://other.example"}},
	}
	ctx, _ := h.dpopContext(signer)
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, cl := decodeJWT(t, tok.AccessToken)
	cnf, _ := cl["cnf"].(map[string]any)
	if tok.TokenType != "DPoP" || cl["sub"] != "svc" || cl["aud"] != "https://other.example" || cnf["jkt"] != signer.Thumbprint() || tok.RefreshToken != "" {
		t.Fatalf("token %+v claims %v", tok, cl)
	}
}
