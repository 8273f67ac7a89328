package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

const (
	// The token endpoint authentication methods are oauth.AuthMethod.
	assertionType = oauth.ClientAssertionJWTBearer
	// maxAssertionLifetime bounds exp - now of a client assertion, so its
	// jti need only be remembered that long (RFC 7523 §3 item 7).
	maxAssertionLifetime = 5 * time.Minute
	maxAssertionBytes    = 16 << 10
)

// client is a registered client with what the hot path derives from it.
type client struct {
	*store.Client
	jwks *jose.JSONWebKeySet // parsed Client.JWKS, for private_key_jwt
}

func (c *client) allowsGrant(g oauth.GrantType) bool { return slices.Contains(c.GrantTypes, g) }

// clientCache keeps clients in memory for a short time, so the token
// endpoint does not read the database for every request.
type clientCache struct {
	st  store.Clients
	ttl time.Duration
	now func() time.Time
	mu  sync.RWMutex
	m   map[string]cachedClient
}

type cachedClient struct {
	c   *client
	exp time.Time
}

const maxCachedClients = 10000

func newClientCache(st store.Clients, ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{st: st, ttl: ttl, now: now, m: map[string]cachedClient{}}
}

// get returns the client, store.ErrNotFound when unknown.
func (cc *clientCache) get(ctx context.Context, id string) (*client, error) {
	now := cc.now()
	if cc.ttl > 0 {
		cc.mu.RLock()
		e, ok := cc.m[id]
		cc.mu.RUnlock()
		if ok && now.Before(e.exp) {
			return e.c, nil
		}
	}
	sc, err := cc.st.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	c := &client{Client: sc}
	if len(sc.JWKS) > 0 {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(sc.JWKS, &set); err != nil {
			return nil, fmt.Errorf("authz: client %q has an unreadable JWKS: %w", id, err)
		}
		c.jwks = &set
	}
	if cc.ttl > 0 {
		cc.mu.Lock()
		if len(cc.m) >= maxCachedClients {
			clear(cc.m)
		}
		cc.m[id] = cachedClient{c: c, exp: now.Add(cc.ttl)}
		cc.mu.Unlock()
	}
	return c, nil
}

// forget drops a client from the cache (after it was changed or deleted).
func (cc *clientCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}

// ForgetClient drops a cached client so that a change made in the store
// (by `ward client` in another process, say) takes effect at once rather
// than after Options.ClientCacheTTL.
func (s *Server) ForgetClient(id string) { s.clients.forget(id) }

// lookupClient returns a registered client or an error suitable for the
// wire: invalid_client for an unknown one.
func (s *Server) lookupClient(ctx context.Context, id string) (*client, error) {
	c, err := s.clients.get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.New(oauth.InvalidClient, "unknown client")
	}
	if err != nil {
		return nil, oauth.Wrap(err, "cannot read the client")
	}
	return c, nil
}

func invalidClient(format string, args ...any) *oauth.Error {
	return oauth.New(oauth.InvalidClient, format, args...)
}

// authenticateClient authenticates the client of a token, PAR, revocation
// or introspection request (RFC 6749 §2.3, RFC 7523 §2.2). Exactly one
// method must be used and it must be the client's registered one. allowNone
// is false where a public client may not call (introspection). An address
// that has spent its allowance of failed attempts (for any client_id, or
// for the one it names) is refused before any work (ratelimit.go).
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, form url.Values, allowNone bool) (*client, error) {
	id := claimedClientID(r, form)
	tiers := s.authFailureTiers(r, id)
	keys := make([]string, len(tiers))
	for i, t := range tiers {
		keys[i] = t.key
	}
	// authgate.go: no more attempts of a key in flight than failures left.
	done, err := s.authGate.enter(ctx, keys, func() ([]int, error) { return s.clientAuthRemaining(r, id, tiers) })
	if err != nil {
		return nil, err
	}
	defer done()
	c, err := s.authenticateClientOnce(ctx, r, form, allowNone)
	if e, ok := errors.AsType[*oauth.Error](err); ok && e.Code == oauth.InvalidClient {
		s.clientAuthFailed(r, tiers)
	}
	if err != nil {
		return nil, err
	}
	// FAPI 2.0 (fapi.go): a client the profile does not admit, refused
	// once authenticated, so that its failures spend no allowance.
	if err := s.fapiClient(c); err != nil {
		return nil, err
	}
	return c, nil
}

// authenticateClientOnce is one authentication attempt.
func (s *Server) authenticateClientOnce(ctx context.Context, r *http.Request, form url.Values, allowNone bool) (*client, error) {
	user, pass, hasBasic := r.BasicAuth()
	if !hasBasic && r.Header.Get("Authorization") != "" {
		return nil, invalidClient("the Authorization header is not HTTP Basic")
	}
	hasPost := form.Get("client_secret") != ""
	hasJWT := form.Get("client_assertion") != "" || form.Get("client_assertion_type") != ""
	n := 0
	for _, b := range []bool{hasBasic, hasPost, hasJWT} {
		if b {
			n++
		}
	}
	if n > 1 {
		return nil, oauth.New(oauth.InvalidRequest, "use exactly one client authentication method")
	}
	switch {
	case hasBasic:
		// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, invalidClient("malformed Basic credentials")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, oauth.New(oauth.InvalidRequest, "client_id does not match the authenticated client")
		}
		return s.checkSecret(ctx, id, secret, oauth.AuthSecretBasic)
	case hasPost:
		return s.checkSecret(ctx, form.Get("client_id"), form.Get("client_secret"), oauth.AuthSecretPost)
	case hasJWT:
		return s.checkAssertion(ctx, form)
	}
	id := form.Get("client_id")
	if id == "" {
		return nil, invalidClient("client authentication is required")
	}
	c, err := s.lookupClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if isTLSAuth(c.AuthMethod) {
		// RFC 8705 §2: client_id in the form, the certificate of the
		// connection (or of a trusted proxy) authenticates (mtls.go).
		return s.authenticateTLSClient(r, c)
	}
	if c.AuthMethod != oauth.AuthNone {
		return nil, invalidClient("this client must authenticate with %s", c.AuthMethod)
	}
	if !allowNone {
		return nil, invalidClient("public clients may not call this endpoint")
	}
	return c, nil
}

// checkSecret compares a client secret with the stored SHA-256 in constant
// time. An unknown client costs the same hash and comparison.
func (s *Server) checkSecret(ctx context.Context, id, secret string, method oauth.AuthMethod) (*client, error) {
	sum := sha256.Sum256([]byte(secret))
	if id == "" {
		return nil, invalidClient("client_id is missing")
	}
	c, err := s.clients.get(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, oauth.Wrap(err, "cannot read the client")
	}
	var want []byte
	if c != nil {
		want = c.SecretHash
	}
	if len(want) != sha256.Size {
		want = make([]byte, sha256.Size) // unknown client: same work
	}
	ok := subtle.ConstantTimeCompare(sum[:], want) == 1
	if c == nil || !ok || len(c.SecretHash) != sha256.Size {
		return nil, invalidClient("client authentication failed")
	}
	if c.AuthMethod != method {
		return nil, invalidClient("this client must authenticate with %s", c.AuthMethod)
	}
	return c, nil
}

// assertionClaims are the claims RFC 7523 §3 requires of a client
// assertion.
type assertionClaims struct {
	jwt.Claims
	// ResponseType marks a request object (assertionTyp): never in an
	// assertion.
	ResponseType json.RawMessage `json:"response_type"`
}

// checkAssertion authenticates a private_key_jwt client (RFC 7523 §2.2, §3;
// RFC 8725): the assertion is verified with the client's registered keys
// under an explicit algorithm allow-list, iss and sub are the client_id,
// aud names this server (its issuer or its token endpoint), exp is
// required and at most five minutes away, and jti is single-use.
func (s *Server) checkAssertion(ctx context.Context, form url.Values) (*client, error) {
	if form.Get("client_assertion_type") != assertionType {
		return nil, invalidClient("client_assertion_type must be %s", assertionType)
	}
	raw := form.Get("client_assertion")
	if raw == "" || len(raw) > maxAssertionBytes {
		return nil, invalidClient("client_assertion is missing or too large")
	}
	// RFC 7515 §4, RFC 8259 §4: go-jose matches names exactly and refuses
	// duplicates where it decodes; this refuses them everywhere, and
	// refuses a member that differs from a registered name only in case.
	if err := strictjson.CheckCompact(raw, strictjson.JOSENames); err != nil {
		return nil, invalidClient("client_assertion's header or claims have a repeated or case-variant member name")
	}
	tok, err := jwt.ParseSigned(raw, s.assertionAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalidClient("client_assertion is not a signed JWT with an allowed algorithm")
	}
	if !assertionTyp(tok.Headers[0]) {
		return nil, invalidClient("client_assertion's typ names another kind of JWT (a request object, a DPoP proof, ...)")
	}
	// Read the unverified issuer only to find the keys.
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.Issuer == "" {
		return nil, invalidClient("client_assertion has no iss")
	}
	id := unverified.Issuer
	if fid := form.Get("client_id"); fid != "" && fid != id {
		return nil, invalidClient("client_id does not match the assertion's iss")
	}
	c, err := s.lookupClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.AuthMethod != oauth.AuthPrivateKeyJWT || c.jwks == nil {
		return nil, invalidClient("this client must authenticate with %s", c.AuthMethod)
	}
	var claims assertionClaims
	if !verifyWithSet(tok, c.jwks, &claims) {
		return nil, invalidClient("client_assertion signature does not verify with the client's keys")
	}
	if claims.ResponseType != nil {
		// An untyped request object (RFC 9101 §4: every authorization
		// request has response_type) is not a client assertion.
		return nil, invalidClient("client_assertion carries response_type: it is a request object")
	}
	if p := s.profileOf(c); p.Secure() {
		if err := fapiAssertion(tok, s.issuer); err != nil {
			return nil, invalidClient("%s, under %s", err, p)
		}
	}
	now := s.now()
	if err := checkAssertionClaims(&claims.Claims, id, []string{s.issuer, s.url(PathToken), s.url(PathPAR)}, now); err != nil {
		return nil, invalidClient("%s", err)
	}
	if err := s.useAssertionJTI(ctx, id, claims.ID, claims.Expiry.Time()); err != nil {
		return nil, err
	}
	return c, nil
}

// useAssertionJTI makes the assertion's jti single use (RFC 7523 §3 item
// 7: remembered until the assertion expires, at most
// maxAssertionLifetime+1m away, checked before). It is recorded in the
// DPoP replay store (Options.Replay: in memory for one instance, Redis
// shared by every instance), not in the SQL store: one write to the
// database per token request cost the FAPI token endpoint three times its
// signature operations (docs/PERFORMANCE.md). The store's key is
// assertionReplayKey(client), which a DPoP proof's thumbprint cannot be.
// A store that cannot answer refuses the assertion with 503, as for a
// proof; an ambiguous Redis write is told apart by package redisstore.
func (s *Server) useAssertionJTI(ctx context.Context, clientID, jti string, exp time.Time) *oauth.Error {
	if s.opts.AssertionJTIsInStore {
		return s.useAssertionJTIInStore(ctx, clientID, jti, exp)
	}
	err := s.opts.Replay.Use(ctx, assertionReplayKey(clientID), jti, exp)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dpop.ErrSeen):
		return invalidClient("client_assertion was used before (jti replay)")
	}
	return &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable,
		Description: "the authorization server cannot check client assertions for replay now; try again shortly",
		Reason:      "replay_store_unavailable", RetryAfter: unavailableRetryAfter, Err: err}
}

// useAssertionJTIInStore records the jti as a row of the store
// (Options.AssertionJTIsInStore), single use across every instance that
// shares it (RFC 7523 §3 item 7).
func (s *Server) useAssertionJTIInStore(ctx context.Context, clientID, jti string, exp time.Time) *oauth.Error {
	err := s.st.UseOnce(ctx, assertionReplayKey(clientID)+":"+jti, exp, s.opts.Now())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrAlreadyUsed):
		return invalidClient("client_assertion was used before (jti replay)")
	}
	return oauth.Wrap(err, "cannot record the assertion jti")
}

// assertionReplayKey is the replay store's key ("jkt") for the client
// assertions of clientID: a namespace and the client_id, length-prefixed
// so that no (client_id, jti) pair, whatever ':' or NUL they hold, gives
// the same key as another. A DPoP proof's key is a base64url SHA-256
// thumbprint (RFC 7638), which never holds ':', and the pushed-SET key
// starts "set:": neither can equal it.
func assertionReplayKey(clientID string) string {
	return "client_assertion:" + strconv.Itoa(len(clientID)) + ":" + clientID
}

// assertionTyp reports whether the header's typ is one a client assertion
// may carry: none, JWT, or client-authentication+jwt (the explicit type of
// draft-ietf-oauth-rfc7523bis), compared as media types (RFC 7515 §4.1.9).
// Any other type is another kind of JWT signed with the client's keys —
// above all a request object (oauth-authz-req+jwt), which travels through
// the browser and may carry sub = client_id — and is refused (RFC 8725
// §3.11), so that it cannot authenticate the client.
func assertionTyp(h jose.Header) bool {
	v, ok := h.ExtraHeaders[jose.HeaderType]
	if !ok {
		return true
	}
	typ, isString := v.(string)
	if !isString {
		return false
	}
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	return typ == "jwt" || typ == "client-authentication+jwt"
}

// verifyWithSet verifies tok with the key of the set its kid names, or,
// without a kid, with each key in turn. Keys whose alg does not match the
// header's are skipped.
func verifyWithSet(tok *jwt.JSONWebToken, set *jose.JSONWebKeySet, out any) bool {
	if len(tok.Headers) != 1 {
		return false
	}
	h := tok.Headers[0]
	for _, k := range set.Keys {
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if !k.IsPublic() {
			continue
		}
		if err := tok.Claims(k.Key, out); err == nil {
			return true
		}
	}
	return false
}

var (
	errAssertionIss = errors.New("iss and sub must both be the client_id")
	errAssertionAud = errors.New("aud must be this server's issuer or token endpoint")
	errAssertionExp = errors.New("exp is required, in the future, and at most 5 minutes away")
	errAssertionJTI = errors.New("jti is required")
	errAssertionNBF = errors.New("the assertion is not valid yet")
)

// checkAssertionClaims applies RFC 7523 §3 to verified claims.
func checkAssertionClaims(c *jwt.Claims, clientID string, audiences []string, now time.Time) error {
	if c.Issuer != clientID || c.Subject != clientID {
		return errAssertionIss
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return contains(audiences, strings.TrimSuffix(a, "/")) || contains(audiences, a) }) {
		return errAssertionAud
	}
	if c.Expiry == nil {
		return errAssertionExp
	}
	exp := c.Expiry.Time()
	if !exp.After(now) || exp.Sub(now) > maxAssertionLifetime+time.Minute {
		return errAssertionExp
	}
	if c.NotBefore != nil && c.NotBefore.Time().After(now.Add(time.Minute)) {
		return errAssertionNBF
	}
	if c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(time.Minute)) {
		return errAssertionNBF
	}
	if c.ID == "" || len(c.ID) > 256 {
		return errAssertionJTI
	}
	return nil
}
