package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
)

// This file is the gateway's token exchange (RFC 8693, docs/DELEGATION.md):
// on a route with an exchange setting, the caller's verified token is
// exchanged at the authorization server for one aimed at the upstream's
// audience and bound to the gateway's own key, and the upstream receives
// that token with a fresh DPoP proof of the gateway's key for its method
// and URL. The caller's token and proof never reach the upstream; if the
// exchange fails, the request fails (502 or 503), never falling back to
// forwarding the caller's token.

// TokenExchanger exchanges a caller's token for an upstream's and proves
// possession of the key the new token is bound to.
type TokenExchanger interface {
	// Exchange returns a token for audience (and scope, when not empty)
	// in exchange for subjectToken, and how long it lives.
	Exchange(ctx context.Context, subjectToken, audience, scope string) (token string, lifetime time.Duration, err error)
	// Proof is a DPoP proof for a request with token to method and url.
	Proof(method, url, token string) (string, error)
}

// clientExchanger is a TokenExchanger over the Go SDK: c authenticates
// the gateway (private_key_jwt or mTLS) and holds the DPoP key of s.
type clientExchanger struct {
	c *client.Client
	s *dpop.Signer
}

// NewClientExchanger returns a TokenExchanger that exchanges through c,
// whose DPoP key must be the key of s (client.WithKey).
func NewClientExchanger(c *client.Client, s *dpop.Signer) (TokenExchanger, error) {
	if c.Thumbprint() != s.Thumbprint() {
		return nil, errors.New("gateway: the exchanger's DPoP signer is not the client's key")
	}
	return &clientExchanger{c: c, s: s}, nil
}

func (e *clientExchanger) Exchange(ctx context.Context, subjectToken, audience, scope string) (string, time.Duration, error) {
	tok, err := e.c.TokenExchange(ctx, subjectToken, []string{audience}, scope)
	if err != nil {
		return "", 0, err
	}
	return tok.AccessToken, time.Duration(tok.ExpiresIn) * time.Second, nil
}

func (e *clientExchanger) Proof(method, u, token string) (string, error) {
	return e.s.Proof(method, u, dpop.WithAccessToken(token))
}

// buildExchange checks a route's exchange setting.
func (g *Gateway) buildExchange(rt *route) error {
	x := rt.cfg.Exchange
	if x == nil {
		return nil
	}
	switch u, err := url.Parse(x.Audience); {
	case g.opts.TokenExchanger == nil:
		return errors.New("exchange needs the gateway's token exchange client (gateway.token_exchange)")
	case rt.cfg.Unauthenticated || rt.cfg.ForwardAuthorization:
		return errors.New("exchange needs an authenticated route without forward_authorization")
	case rt.certOnly:
		// A certificate-only route never verifies the Authorization
		// header: exchanging it would launder a stolen token, unproved,
		// into one bound to the gateway's key.
		return errors.New("exchange needs a route that verifies the caller's token, not a certificate-only route")
	case err != nil || !u.IsAbs() || u.Fragment != "":
		return fmt.Errorf("exchange.audience %q is not an absolute URI without fragment", x.Audience)
	}
	rt.exchange = x
	return nil
}

// exchangeToken exchanges the caller's token for the route's upstream
// (from the cache when it can) into rec, or answers the request: 503 when
// the authorization server could not be reached or failed, 502 when it
// refused.
func (g *Gateway) exchangeToken(w http.ResponseWriter, r *http.Request, rt *route, rec *record) bool {
	subject := callerToken(r)
	if subject == "" {
		writeExchangeError(w, http.StatusBadGateway, "no caller token to exchange")
		return false
	}
	now := g.clock()
	key := exchangeKey(subject, rt.exchange)
	if tok, ok := g.exchanges.get(key, now); ok {
		rec.exchanged = tok
		return true
	}
	tok, life, err := g.opts.TokenExchanger.Exchange(r.Context(), subject, rt.exchange.Audience, rt.exchange.Scope)
	if err != nil || tok == "" {
		status := exchangeStatus(err)
		g.log.Warn("token exchange failed", "route", rt.cfg.Name, "audience", rt.exchange.Audience, "status", status, "err", err)
		rec.outcome = OutcomeUpstreamError
		writeExchangeError(w, status, "the token exchange for the upstream failed")
		return false
	}
	g.exchanges.put(key, tok, now, life)
	rec.exchanged = tok
	return true
}

// exchangeStatus is 502 when the authorization server refused the
// exchange, 503 when it could not answer.
func exchangeStatus(err error) int {
	var re *client.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
		return http.StatusBadGateway
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &re) {
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

func writeExchangeError(w http.ResponseWriter, status int, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "token_exchange_failed", "error_description": desc})
}

// callerToken is the access token of the request's Authorization header
// (DPoP or Bearer scheme), which the gateway has verified.
func callerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "DPoP") && !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// presentExchanged puts the exchanged token and a fresh proof for the
// upstream request's method and URL on out. The caller's Authorization
// and DPoP headers were removed (route.strip); when the proof cannot be
// made, out goes without credentials and the upstream refuses it.
func (g *Gateway) presentExchanged(out *http.Request, rec *record) {
	if rec == nil || rec.exchanged == "" {
		return
	}
	u := url.URL{Scheme: out.URL.Scheme, Host: out.URL.Host, Path: out.URL.Path, RawPath: out.URL.RawPath}
	proof, err := g.opts.TokenExchanger.Proof(out.Method, u.String(), rec.exchanged)
	if err != nil {
		g.log.Warn("token exchange: cannot sign the upstream proof", "err", err)
		return
	}
	out.Header["Authorization"] = []string{"DPoP " + rec.exchanged}
	out.Header["Dpop"] = []string{proof}
}

// maxExchangeCache bounds the exchanged tokens kept.
const maxExchangeCache = 10000

// exchangeCache keeps exchanged tokens per (subject token, audience,
// scope), keyed by a hash so no caller token is held, until shortly before
// they expire.
type exchangeCache struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]exchanged
}

type exchanged struct {
	tok   string
	until time.Time
}

func newExchangeCache(max int) *exchangeCache {
	return &exchangeCache{max: max, m: map[[32]byte]exchanged{}}
}

func exchangeKey(subject string, x interface{ CacheKey() string }) [32]byte {
	return sha256.Sum256([]byte(subject + "\x00" + x.CacheKey()))
}

func (c *exchangeCache) get(k [32]byte, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.until) {
		return "", false
	}
	return e.tok, true
}

// put keeps tok until a tenth of its life (at least 5 s) before it ends;
// a token with less life than that is not kept. A full cache drops its
// expired entries, then any one.
func (c *exchangeCache) put(k [32]byte, tok string, now time.Time, life time.Duration) {
	margin := max(life/10, 5*time.Second)
	if life <= margin {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = exchanged{tok: tok, until: now.Add(life - margin)}
}

// configExchanger makes the TokenExchanger of gateway.token_exchange when
// Options gave none: a private_key_jwt client of the authorization server
// with a P-256 DPoP key generated here, which no one else ever holds.
func (g *Gateway) configExchanger(cfg *config.Gateway, issuer string) error {
	te := cfg.TokenExchange
	if g.opts.TokenExchanger != nil || te.ClientID == "" {
		return nil
	}
	key, err := readPrivateKey(te.PrivateKeyFile)
	if err != nil {
		return fmt.Errorf("%w: gateway.token_exchange.private_key_file: %w", ErrConfig, err)
	}
	pop, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	signer, err := dpop.NewSigner(pop, dpop.WithClock(g.opts.Clock))
	if err != nil {
		return err
	}
	endpoint := te.TokenEndpoint
	if endpoint == "" {
		endpoint = strings.TrimSuffix(issuer, "/") + "/token"
	}
	opts := []client.Option{client.WithKey(pop), client.WithPrivateKeyJWT(key, te.KeyID), client.WithClock(g.opts.Clock)}
	if g.opts.HTTPClient != nil {
		opts = append(opts, client.WithHTTPClient(g.opts.HTTPClient))
	}
	c, err := client.New(client.Endpoint{Issuer: issuer, TokenURL: endpoint}, te.ClientID, opts...)
	if err != nil {
		return fmt.Errorf("%w: gateway.token_exchange: %w", ErrConfig, err)
	}
	g.opts.TokenExchanger, err = NewClientExchanger(c, signer)
	return err
}

// noExchange refuses a route with exchange at the forward-auth and
// ext_authz front doors (Decide): the proxy there would forward the
// caller's token, which such a route's upstream must never receive.
var noExchange = &refusal{status: http.StatusServiceUnavailable, e: &oauth.Error{
	Code: "token_exchange_unavailable", Status: http.StatusServiceUnavailable,
	Description: "this route exchanges the caller's token and is served by the gateway's reverse proxy only",
}}
