package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
)

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("resource: bad configuration")

// Defaults.
const (
	DefaultLeeway           = 10 * time.Second
	DefaultMaxTokenSize     = 8 << 10
	DefaultCacheSize        = 100_000
	DefaultIntrospectionTTL = 30 * time.Second
	MaxLeeway               = 5 * time.Minute
)

// DefaultAlgorithms is the default allow-list for access-token signatures:
// what Ward's authorization server signs with.
var DefaultAlgorithms = []string{dpop.ES256, dpop.EdDSA}

// Config declares how a resource server checks access tokens. Audience,
// DPoP and Issuer (or Issuers) are required.
type Config struct {
	// Issuer is the authorization server's issuer identifier: tokens must
	// carry it in iss, and its keys are found through RFC 8414 discovery
	// from it unless Keys is set. It is the one-issuer shorthand of
	// Issuers: Issuer, Keys, Algorithms and Introspector describe that
	// one issuer.
	Issuer string
	// Issuers are the trusted issuers, when there are several or one
	// needs more than the shorthand says (another key discovery, the
	// legacy-jwt profile, a claim mapping). A token's iss selects one
	// before any key is fetched. Set Issuer or Issuers, not both.
	Issuers []Issuer
	// Logger, when set, receives the cause of an issuer's key or
	// introspection failures, at most once per 30 s per issuer.
	Logger *slog.Logger
	// Audience is this resource's identifier (RFC 8707, RFC 9068 §4): the
	// token's aud must contain it. A Requirement may override it.
	Audience string
	// DPoP checks proofs; configure it with the externally visible URL
	// (dpop.WithBaseURL or dpop.WithTrustedProxies) and, for several
	// instances, a shared replay store.
	DPoP *dpop.Verifier
	// Keys supplies Issuer's verification keys; default
	// NewRemoteKeys(Issuer, RemoteKeysOptions{Client: HTTPClient, Clock: Clock}).
	// With Issuers, set Issuer.Keys instead.
	Keys KeySource
	// Introspector, when set, validates Issuer's tokens that are not JWTs
	// (RFC 7662). Without it, opaque tokens are refused. With Issuers,
	// set Issuer.Introspector instead.
	Introspector Introspector
	// IntrospectionTTL is how long an introspection answer is reused (never
	// beyond the token's exp). Default 30 s.
	IntrospectionTTL time.Duration
	// Algorithms is Issuer's access-token signature allow-list; none and
	// HMAC are refused. Default DefaultAlgorithms. With Issuers, set
	// Issuer.Algorithms instead.
	Algorithms []string
	// Leeway absorbs clock skew in exp, nbf and iat. Default 10 s; at most
	// 5 m.
	Leeway time.Duration
	// ResourceMetadata is the URL of this resource's RFC 9728 metadata,
	// sent in challenges (resource_metadata). Optional.
	ResourceMetadata string
	// Realm is sent in challenges when set.
	Realm string
	// MaxTokenSize bounds the access token, in bytes. Default 8 KiB.
	MaxTokenSize int
	// CacheSize bounds the validated-token cache (entries). Default
	// 100 000; negative disables the cache.
	CacheSize int
	// Clock; default time.Now. Use the same clock as the DPoP verifier.
	Clock func() time.Time
	// HTTPClient for discovery and JWKS of issuers whose Keys are not
	// set; default a 10 s timeout client.
	HTTPClient *http.Client
	// OnReject, when set, is called for every refused request (for metrics
	// and logs), with the error as rendered (its Reason is stable) and
	// the key thumbprint involved, if known.
	OnReject func(r *http.Request, err *oauth.Error, jkt string)
	// ClientCertificate returns the request's client certificate, checked
	// against certificate-bound tokens (cnf.x5t#S256, RFC 8705 §3) and
	// the source of Identity.SPIFFEID. Default PeerCertificate (the TLS
	// handshake); a gateway behind a TLS proxy supplies one that also reads
	// a trusted proxy's header. A configured source must return only
	// verified certificates.
	ClientCertificate CertificateSource
	// Revocations, when set, refuses tokens the issuer revoked (by jti or
	// by grant_id) before they expire, cached ones included.
	Revocations RevocationList
	// RevocationsIssuer is the issuer whose tokens Revocations covers
	// (Ward's own, which publishes the feed); empty: every issuer's.
	// Another issuer's tokens are neither refused by its entries nor
	// refused while its feed is stale.
	RevocationsIssuer string
}

// Requirement is what one route or handler demands of a token.
type Requirement struct {
	// Scopes must all be granted.
	Scopes []string
	// Audience, when set, replaces Config.Audience for this route: a
	// token for reading profiles is not accepted by the payment API.
	Audience string
	// AllowBearer accepts tokens that are not sender-constrained, with
	// the Bearer scheme. DPoP-bound tokens still need DPoP.
	AllowBearer bool
	// Issuers, when set, are the only issuers (by Issuer.Name or issuer
	// identifier) whose tokens this route accepts; empty accepts every
	// configured issuer. A token of another is refused before any of its
	// issuer's keys is fetched.
	Issuers []string
	// ResourceMetadata, when set, replaces Config.ResourceMetadata in
	// this route's challenges: the RFC 9728 metadata of its Audience.
	ResourceMetadata string
}

// Resource checks requests. It is safe for concurrent use.
type Resource struct {
	cfg     Config
	issuers []*issuerEntry
	byIss   map[string]*issuerEntry
	cache   *tokenCache
	clock   func() time.Time
}

// New validates cfg and returns a Resource.
func New(cfg Config) (*Resource, error) {
	var errs []error
	if cfg.Audience == "" {
		errs = append(errs, fmt.Errorf("%w: Audience is required (this resource's identifier)", ErrConfig))
	}
	if cfg.DPoP == nil {
		errs = append(errs, fmt.Errorf("%w: DPoP verifier is required", ErrConfig))
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("%w: Leeway must be between 0 and %v", ErrConfig, MaxLeeway))
	}
	if cfg.IntrospectionTTL > DefaultIntrospectionTTL {
		errs = append(errs, fmt.Errorf("%w: IntrospectionTTL must be at most %v (a revoked token stays accepted that long)", ErrConfig, DefaultIntrospectionTTL))
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	rs := &Resource{cfg: cfg, clock: cfg.Clock, byIss: map[string]*issuerEntry{}}
	errs = append(errs, rs.registry()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if rs.cfg.MaxTokenSize <= 0 {
		rs.cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	if rs.cfg.IntrospectionTTL <= 0 {
		rs.cfg.IntrospectionTTL = DefaultIntrospectionTTL
	}
	switch {
	case cfg.CacheSize == 0:
		rs.cache = newTokenCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		rs.cache = newTokenCache(cfg.CacheSize)
	}
	return rs, nil
}

// registry builds the issuer registry from Issuers, or from the
// one-issuer shorthand.
func (rs *Resource) registry() []error {
	cfg := &rs.cfg
	list := cfg.Issuers
	switch {
	case len(list) == 0 && cfg.Issuer == "":
		return []error{fmt.Errorf("%w: Issuer (or Issuers) is required", ErrConfig)}
	case len(list) == 0:
		list = []Issuer{{Issuer: cfg.Issuer, Keys: cfg.Keys, Algorithms: cfg.Algorithms, Introspector: cfg.Introspector}}
	case cfg.Issuer != "" || cfg.Keys != nil || cfg.Introspector != nil || len(cfg.Algorithms) > 0:
		return []error{fmt.Errorf("%w: set Issuer (with Keys, Algorithms, Introspector) or Issuers, not both", ErrConfig)}
	}
	var errs []error
	// A route names an issuer by Name or identifier (accepts): each
	// reference must pick one issuer, so no Name may equal another
	// issuer's Name or identifier.
	refs := map[string]*issuerEntry{}
	for _, is := range list {
		e, eerrs := newIssuerEntry(is, cfg)
		errs = append(errs, eerrs...)
		if rs.byIss[e.Issuer.Issuer] != nil || refs[e.Name] != nil || refs[e.Issuer.Issuer] != nil {
			errs = append(errs, fmt.Errorf("%w: issuer %q is configured twice (a name or identifier names two issuers)", ErrConfig, e.Name))
		}
		refs[e.Name], refs[e.Issuer.Issuer] = e, e
		rs.byIss[e.Issuer.Issuer] = e
		rs.issuers = append(rs.issuers, e)
	}
	return errs
}

// Challenge returns the WWW-Authenticate challenges for a route.
func (rs *Resource) Challenge(req Requirement) oauth.Challenge {
	md := req.ResourceMetadata
	if md == "" {
		md = rs.cfg.ResourceMetadata
	}
	return oauth.Challenge{
		DPoPAlgs:         rs.cfg.DPoP.Algorithms(),
		Bearer:           req.AllowBearer,
		Realm:            rs.cfg.Realm,
		ResourceMetadata: md,
	}
}

// Middleware returns middleware that lets through only requests meeting
// req, with their Identity in the context, and answers the others with a
// challenge.
func (rs *Resource) Middleware(req Requirement) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := rs.Authenticate(r, req)
			if err != nil {
				rs.WriteError(w, r, err, req)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
		})
	}
}

// Require is Middleware for a route needing scopes with DPoP.
func (rs *Resource) Require(scopes ...string) func(http.Handler) http.Handler {
	return rs.Middleware(Requirement{Scopes: scopes})
}

// WriteError renders err (from Authenticate) with the route's challenges,
// through oauth.WriteChallenge, and reports it to Config.OnReject.
func (rs *Resource) WriteError(w http.ResponseWriter, r *http.Request, err error, req Requirement) {
	e := oauth.As(err)
	if rs.cfg.OnReject != nil {
		rs.cfg.OnReject(r, e, Thumbprint(err))
	}
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "bearer") {
		scheme = "Bearer"
	} else {
		scheme = "DPoP"
	}
	oauth.WriteChallenge(w, e, rs.Challenge(req), scheme)
}

// failure is the internal cause carried in oauth.Error.Err: the key
// thumbprint involved (for logs) and the underlying error.
type failure struct {
	jkt  string
	iss  string // the iss of the token whose cnf.jkt jkt is
	err  error
	leak *Leak // leak.go; nil unless the refusal proves a leak
}

func (f *failure) Error() string {
	if f.err == nil {
		return "refused"
	}
	return f.err.Error()
}
func (f *failure) Unwrap() error { return f.err }

// Thumbprint returns the key thumbprint involved in a refusal from
// Authenticate (the token's cnf.jkt), or "". Safe to log.
func Thumbprint(err error) string {
	var f *failure
	if errors.As(err, &f) {
		return f.jkt
	}
	return ""
}

// KeyIssuer returns the iss of the verified token whose cnf.jkt
// Thumbprint(err) names, or "": the issuer that chose the key. Another
// issuer's token may name anyone's key (a jkt is public), so a response
// aimed at the key itself (package block) checks whose it is.
func KeyIssuer(err error) string {
	var f *failure
	if errors.As(err, &f) && f.jkt != "" {
		return f.iss
	}
	return ""
}

func fail(code string, status int, reason Reason, desc, jkt string, cause error) *oauth.Error {
	return &oauth.Error{Code: code, Status: status, Reason: reason, Description: desc, Err: &failure{jkt: jkt, err: cause}}
}

func invalidToken(reason Reason, desc, jkt string, cause error) *oauth.Error {
	return fail(oauth.InvalidToken, http.StatusUnauthorized, reason, desc, jkt, cause)
}

// Authenticate checks the request's access token and DPoP proof against
// req and returns the verified identity. Errors are *oauth.Error with a
// stable Reason; render them with WriteError.
func (rs *Resource) Authenticate(r *http.Request, req Requirement) (_ *Identity, refusal error) {
	scheme, tok, err := credentials(r, req)
	if err != nil {
		return nil, err
	}
	if len(tok) > rs.cfg.MaxTokenSize {
		return nil, invalidToken(ReasonTokenTooLarge, "access token is too large", "", nil)
	}
	id, err := rs.token(r.Context(), tok, req)
	if err != nil {
		return nil, err
	}
	defer func() { attributeKey(refusal, id.Issuer) }()
	if e := rs.checkRevoked(id); e != nil {
		return nil, e
	}
	// Sender constraint (RFC 9449 §7.1, §7.2; RFC 8705 §3). A token bound
	// both ways must satisfy both.
	switch {
	case id.JKT != "" && scheme != "DPoP":
		return nil, markLeak(invalidToken(ReasonDPoPAsBearer, "the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof", id.JKT, nil), id)
	case id.JKT == "" && scheme == "DPoP":
		return nil, invalidToken(ReasonTokenNotBound, "the DPoP scheme needs a DPoP-bound access token (cnf.jkt)", "", nil)
	case id.JKT == "" && id.x5t == "" && !req.AllowBearer:
		return nil, invalidToken(ReasonBearerNotAllowed, "this resource accepts only sender-constrained access tokens (DPoP or mTLS)", "", nil)
	}
	thumb, spiffeID, present, certErr := rs.clientCert(r)
	if id.x5t != "" {
		if e := checkCertBinding(id.x5t, thumb, present, certErr, id.JKT); e != nil {
			return nil, markLeak(e, id)
		}
	}
	if id.JKT != "" {
		if _, err := rs.cfg.DPoP.VerifyHTTP(r.Context(), r, tok, id.JKT); err != nil {
			return nil, markLeak(proofError(err, id.JKT), id)
		}
	}
	aud := req.Audience
	if aud == "" {
		aud = id.issuer.Audience
	}
	if aud == "" {
		aud = rs.cfg.Audience
	}
	if !slices.Contains(id.Audience, aud) {
		return nil, invalidToken(ReasonWrongAudience, "the access token is not meant for this resource (aud)", id.JKT, nil)
	}
	for _, s := range req.Scopes {
		if !id.HasScope(s) {
			e := fail(oauth.InsufficientScope, http.StatusForbidden, ReasonInsufficientScope, "the access token lacks a scope this resource requires", id.JKT, nil)
			e.Scope = strings.Join(req.Scopes, " ")
			return nil, e
		}
	}
	out := id.Identity // a copy per request
	out.X5TS256 = id.x5t
	out.CertThumbprint, out.SPIFFEID = thumb, spiffeID
	return &out, nil
}

// attributeKey records iss as the issuer of the key a refusal names.
func attributeKey(err error, iss string) {
	var f *failure
	if errors.As(err, &f) && f.jkt != "" {
		f.iss = iss
	}
}

// proofError is dpop.ProtocolError with the resource server's 401 (RFC
// 9449 §7.1), the token's jkt kept for the challenge.
func proofError(err error, jkt string) *oauth.Error {
	e := dpop.ProtocolError(err, http.StatusUnauthorized)
	e.Err = &failure{jkt: jkt, err: e.Err}
	return e
}

// credentials extracts the one access token of the request (RFC 6750 §2,
// RFC 9449 §7.1): from the Authorization header only.
func credentials(r *http.Request, req Requirement) (scheme, tok string, _ *oauth.Error) {
	// Query parses (and allocates) only when there is a query.
	if r.URL.RawQuery != "" && r.URL.Query().Has("access_token") {
		return "", "", fail(oauth.InvalidRequest, http.StatusBadRequest, ReasonTokenInQuery, "access tokens are accepted only in the Authorization header, never in the URL", "", nil)
	}
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		// RFC 6750 §3.1: no error code when no credentials were sent.
		return "", "", fail("", http.StatusUnauthorized, ReasonNoToken, "", "", nil)
	case 1:
	default:
		return "", "", fail(oauth.InvalidRequest, http.StatusBadRequest, ReasonMultipleTokens, "send exactly one Authorization header", "", nil)
	}
	s, t, ok := strings.Cut(vals[0], " ")
	t = strings.TrimLeft(t, " ")
	switch {
	case strings.EqualFold(s, "DPoP"):
		scheme = "DPoP"
	case strings.EqualFold(s, "Bearer"):
		scheme = "Bearer"
	default:
		return "", "", fail("", http.StatusUnauthorized, ReasonUnsupportedScheme, "", "", nil)
	}
	if !ok || !token68(t) {
		return "", "", fail(oauth.InvalidRequest, http.StatusBadRequest, ReasonMalformedToken, "the Authorization header does not hold a token (RFC 6750 §2.1 b64token)", "", nil)
	}
	return scheme, t, nil
}

// token68 reports whether s is a b64token (RFC 6750 §2.1).
func token68(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return s[0] != '='
}

// verified is a validated token: the identity and the sender-constraint
// details not exposed on Identity.
type verified struct {
	Identity
	x5t     string
	nbf     time.Time
	issuer  *issuerEntry
	grantID string // Ward's grant_id claim, checked against revocations
}

// token validates tok, from the cache when it was validated before. The
// route's accepted issuers are checked before any key fetch or
// introspection, and again on a cache hit.
func (rs *Resource) token(ctx context.Context, tok string, req Requirement) (*verified, *oauth.Error) {
	now := rs.clock()
	h := tokenHash(tok)
	if v := rs.cache.get(h, now); v != nil {
		if !accepts(req, v.issuer) {
			return nil, invalidToken(ReasonIssuerNotAccepted, "access token is from an issuer this route does not accept", "", nil)
		}
		return v, nil
	}
	var (
		v     *verified
		until time.Time
		e     *issuerEntry
		terr  *tokenError
	)
	if looksLikeJWT(tok) {
		if e, terr = rs.pickJWT(tok, req); terr == nil {
			v, terr = rs.verifyJWT(ctx, tok, e, now)
		}
		if v != nil {
			until = v.Expiry.Add(rs.cfg.Leeway)
		}
	} else if e, terr = rs.pickIntrospector(req); terr == nil {
		v, terr = rs.introspect(ctx, tok, e, now)
		if v != nil {
			// RFC 7662 §4: reused at most IntrospectionTTL, never past exp.
			until = now.Add(rs.cfg.IntrospectionTTL)
			if x := v.Expiry.Add(rs.cfg.Leeway); x.Before(until) {
				until = x
			}
		}
	}
	if terr != nil {
		switch terr.reason {
		case ReasonKeysUnavailable, ReasonIntrospectionError:
			e.record(terr.err, now, rs.cfg.Logger)
			oe := fail(oauth.TemporarilyUnavailable, http.StatusServiceUnavailable, terr.reason, "the authorization server cannot be reached to check the token; retry later", "", terr.err)
			oe.RetryAfter = 5
			return nil, oe
		}
		return nil, invalidToken(terr.reason, terr.desc, "", terr.err)
	}
	e.record(nil, now, nil)
	v.issuer = e
	rs.cache.put(h, v, until, now)
	return v, nil
}

// verifyJWT checks a JWT's header and signature with its issuer's keys,
// then its claims under the issuer's profile.
func (rs *Resource) verifyJWT(ctx context.Context, tok string, e *issuerEntry, now time.Time) (*verified, *tokenError) {
	c, raw, terr := verifyJWS(ctx, tok, e)
	if terr != nil {
		return nil, terr
	}
	return rs.checkClaims(e, c, raw, now)
}

// checkClaims applies RFC 9068 §4 (or the legacy-jwt profile) to a JWT's
// claims, except aud, which depends on the route.
func (rs *Resource) checkClaims(e *issuerEntry, c *claims, raw map[string]json.RawMessage, now time.Time) (*verified, *tokenError) {
	exp, hasExp, ok1 := numericDate(c.Expiry)
	iat, hasIat, ok2 := numericDate(c.IssuedAt)
	nbf, _, ok3 := numericDate(c.NotBefore)
	if !ok1 || !ok2 || !ok3 {
		return nil, refuse(ReasonBadClaim, "exp, iat and nbf must be NumericDates")
	}
	sub, client, scopes, err := e.Claims.apply(raw)
	if err != nil {
		return nil, &tokenError{reason: ReasonBadClaim, desc: "a subject, client or scope claim has the wrong type", err: err}
	}
	if why := idToken(raw, e.Profile, e.Claims.Scopes); why != "" {
		return nil, refuse(ReasonIDToken, why)
	}
	switch {
	case e.Profile == ProfileRFC9068 && (c.Issuer == "" || !hasExp || !hasIat || len(c.Audience) == 0 || sub == "" || client == "" || c.JTI == ""):
		return nil, refuse(ReasonMissingClaim, "access token lacks a claim RFC 9068 §2.2 requires (iss, exp, aud, sub, client_id, iat, jti)")
	case c.Issuer == "" || !hasExp || len(c.Audience) == 0 || sub == "":
		// legacy-jwt: RFC 8725 §3.11's mitigations that remain.
		return nil, refuse(ReasonMissingClaim, "access token lacks iss, exp, aud or its subject claim")
	case c.Issuer != e.Issuer.Issuer:
		return nil, refuse(ReasonWrongIssuer, "access token is from another issuer")
	}
	v := &verified{Identity: Identity{
		Issuer: c.Issuer, Subject: sub, ClientID: client, Scopes: scopes,
		Audience: c.Audience, TokenID: c.JTI, IssuedAt: iat, Expiry: exp,
	}, nbf: nbf, grantID: c.GrantID}
	if c.Cnf != nil {
		v.JKT, v.x5t = c.Cnf.JKT, c.Cnf.X5TS256
	}
	if terr := rs.checkTimes(v, now); terr != nil {
		return nil, terr
	}
	return v, nil
}

func (rs *Resource) checkTimes(v *verified, now time.Time) *tokenError {
	l := rs.cfg.Leeway
	switch {
	case !now.Before(v.Expiry.Add(l)):
		return refuse(ReasonExpired, "access token has expired")
	case !v.nbf.IsZero() && now.Add(l).Before(v.nbf):
		return refuse(ReasonNotYetValid, "access token is not valid yet (nbf)")
	case !v.IssuedAt.IsZero() && now.Add(l).Before(v.IssuedAt):
		return refuse(ReasonIssuedInFuture, "access token was issued in the future (iat): check clocks")
	}
	return nil
}

func (rs *Resource) introspect(ctx context.Context, tok string, e *issuerEntry, now time.Time) (*verified, *tokenError) {
	in, err := e.Introspector.Introspect(ctx, tok)
	if err != nil {
		return nil, &tokenError{reason: ReasonIntrospectionError, desc: "introspection failed", err: err}
	}
	if !in.Active {
		return nil, refuse(ReasonInactive, "access token is not active")
	}
	if in.Issuer != "" && in.Issuer != e.Issuer.Issuer {
		return nil, refuse(ReasonWrongIssuer, "access token is from another issuer")
	}
	if in.Expiry.IsZero() {
		// Without exp the answer is reused only for IntrospectionTTL.
		in.Expiry = now.Add(rs.cfg.IntrospectionTTL)
	}
	// cnf binds an introspected token exactly as a JWT's (RFC 7662 §2.2,
	// RFC 9449 §6.2, RFC 8705 §3.2).
	v := &verified{Identity: Identity{
		Issuer: e.Issuer.Issuer, Subject: in.Subject, ClientID: in.ClientID, Scopes: strings.Fields(in.Scope),
		Audience: in.Audience, TokenID: in.TokenID, IssuedAt: in.IssuedAt, Expiry: in.Expiry, JKT: in.JKT,
	}, x5t: in.X5TS256, nbf: in.NotBefore}
	if terr := rs.checkTimes(v, now); terr != nil {
		return nil, terr
	}
	return v, nil
}
