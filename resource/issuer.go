package resource

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/wardauth/ward/internal/strictjson"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardauth/ward/dpop"
)

// Profile is how an issuer's access tokens are shaped.
type Profile string

const (
	// ProfileRFC9068 is the default: JWT access tokens as RFC 9068 defines
	// them (typ at+jwt; iss, exp, aud, sub, client_id, iat and jti
	// required).
	ProfileRFC9068 Profile = "rfc9068"
	// ProfileLegacyJWT accepts the JWT access tokens most identity
	// providers issue by default (Keycloak, Okta, Auth0, Entra): typ JWT
	// or none. It gives up the one thing typ at+jwt proves, that the JWT
	// was minted as an access token (RFC 8725 §3.11), so another JWT of
	// the same issuer, such as an ID token, could pass for one. Ward still
	// requires iss, exp and the route's aud, and refuses a JWT that
	// carries any mark of an ID token (nonce, at_hash, ...); see
	// docs/INTEGRATIONS.md for what remains. Opt in per issuer.
	ProfileLegacyJWT Profile = "legacy-jwt"
)

// ClaimMapping says where an issuer puts the subject, the client and the
// scopes. Each list is tried in order; the first claim present wins.
type ClaimMapping struct {
	// Subject names the claim holding the subject. Default "sub" (Entra
	// users may prefer "oid").
	Subject string
	// Client names the claims holding the client's identifier. Default
	// [client_id] for rfc9068, [client_id, azp, cid] for legacy-jwt.
	Client []string
	// Scopes names the claims holding the granted scopes, each a
	// space-separated string (scope) or an array of strings (Okta's scp).
	// Default [scope] for rfc9068, [scope, scp] for legacy-jwt.
	Scopes []string
}

// Issuer is one trusted authorization server or identity provider. A
// token's iss selects its Issuer before any key is fetched; a token
// whose iss is not configured is refused without a network call.
type Issuer struct {
	// Name is how routes (Requirement.Issuers) and logs refer to it.
	// Default: Issuer.
	Name string
	// Issuer is the issuer identifier, compared exactly with iss (and
	// with the issuer of its discovered metadata).
	Issuer string
	// Keys supplies its verification keys. Default NewRemoteKeys(Issuer)
	// with RFC 8414 discovery.
	Keys KeySource
	// Algorithms is its access-token signature allow-list; none and HMAC
	// are refused. Default DefaultAlgorithms (ES256, EdDSA): add RS256 or
	// PS256 for a provider that signs with RSA.
	Algorithms []string
	// Audience, when set, replaces Config.Audience for its tokens (a
	// route's own Requirement.Audience still wins): providers name the
	// same API differently (Entra: api://<app id>).
	Audience string
	// Profile of its access tokens. Default ProfileRFC9068.
	Profile Profile
	// Claims maps its claims onto Identity.
	Claims ClaimMapping
	// Introspector, when set, validates its opaque tokens (RFC 7662).
	Introspector Introspector
}

// IssuerStatus is the health of one issuer's key source or
// introspection endpoint, for readiness pages. It holds no secret.
type IssuerStatus struct {
	Name, Issuer string
	// LastError is the cause of the last failure to fetch keys or to
	// introspect (TLS verification, HTTP status, metadata naming another
	// issuer, ...), or "".
	LastError   string
	LastErrorAt time.Time
	// LastOK is the last time a token of this issuer was checked with
	// fetched keys or an introspection answer.
	LastOK time.Time
}

// Healthy reports whether the issuer's last attempt succeeded (or none
// failed yet).
func (s IssuerStatus) Healthy() bool { return s.LastErrorAt.IsZero() || s.LastOK.After(s.LastErrorAt) }

// issuerLogInterval: a failing issuer's cause is logged at most this often.
const issuerLogInterval = 30 * time.Second

// issuerEntry is a configured Issuer with its defaults applied.
type issuerEntry struct {
	Issuer
	algs map[string]bool

	mu       sync.Mutex
	lastErr  error
	errAt    time.Time
	okAt     time.Time
	loggedAt time.Time
}

func newIssuerEntry(is Issuer, o *Config) (*issuerEntry, []error) {
	var errs []error
	if is.Issuer == "" {
		errs = append(errs, fmt.Errorf("%w: Issuer is required", ErrConfig))
	}
	if is.Name == "" {
		is.Name = is.Issuer
	}
	switch is.Profile {
	case "":
		is.Profile = ProfileRFC9068
	case ProfileRFC9068, ProfileLegacyJWT:
	default:
		errs = append(errs, fmt.Errorf("%w: issuer %q: profile %q is not rfc9068 or legacy-jwt", ErrConfig, is.Name, is.Profile))
	}
	is.Claims = is.Claims.withDefaults(is.Profile)
	if len(is.Algorithms) == 0 {
		is.Algorithms = DefaultAlgorithms
	}
	e := &issuerEntry{algs: map[string]bool{}}
	for _, a := range is.Algorithms {
		switch a {
		case dpop.ES256, dpop.ES384, dpop.ES512, dpop.EdDSA, dpop.PS256, dpop.PS384, dpop.PS512, dpop.RS256, dpop.RS384, dpop.RS512:
			e.algs[a] = true
		default:
			errs = append(errs, fmt.Errorf("%w: algorithm %q is not an asymmetric signature algorithm (RFC 8725 §3.1)", ErrConfig, a))
		}
	}
	if is.Keys == nil {
		is.Keys = NewRemoteKeys(is.Issuer, RemoteKeysOptions{Client: o.HTTPClient, Clock: o.Clock})
	}
	e.Issuer = is
	return e, errs
}

func (m ClaimMapping) withDefaults(p Profile) ClaimMapping {
	if m.Subject == "" {
		m.Subject = "sub"
	}
	legacy := p == ProfileLegacyJWT
	if len(m.Client) == 0 {
		m.Client = []string{"client_id"}
		if legacy {
			m.Client = []string{"client_id", "azp", "cid"}
		}
	}
	if len(m.Scopes) == 0 {
		m.Scopes = []string{"scope"}
		if legacy {
			m.Scopes = []string{"scope", "scp"}
		}
	}
	return m
}

// record notes the outcome of a check that needed the issuer (keys or
// introspection) and logs a failure's cause, at most once per
// issuerLogInterval per issuer.
func (e *issuerEntry) record(err error, now time.Time, log *slog.Logger) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		e.okAt = now
		return
	}
	e.lastErr, e.errAt = err, now
	if log != nil && now.Sub(e.loggedAt) >= issuerLogInterval {
		e.loggedAt = now
		log.Warn("issuer unavailable: its tokens are answered 503", "issuer", e.Name, "iss", e.Issuer.Issuer, "err", err.Error())
	}
}

func (e *issuerEntry) status() IssuerStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := IssuerStatus{Name: e.Name, Issuer: e.Issuer.Issuer, LastErrorAt: e.errAt, LastOK: e.okAt}
	if e.lastErr != nil {
		s.LastError = e.lastErr.Error()
	}
	return s
}

// IssuerStatus returns the health of every configured issuer, in order.
func (rs *Resource) IssuerStatus() []IssuerStatus {
	out := make([]IssuerStatus, len(rs.issuers))
	for i, e := range rs.issuers {
		out[i] = e.status()
	}
	return out
}

// accepts reports whether req takes tokens of e: Requirement.Issuers
// names it (by Name or issuer identifier), or is empty (every issuer).
func accepts(req Requirement, e *issuerEntry) bool {
	return len(req.Issuers) == 0 || slices.Contains(req.Issuers, e.Name) || slices.Contains(req.Issuers, e.Issuer.Issuer)
}

// peekIssuer returns the iss claim of a compact JWS without verifying
// it, so the issuer whose keys verify it can be chosen before any key is
// fetched. The payload is read as strictly as after verification (RFC
// 8259 §4: exact, unique member names), so that the issuer chosen here is
// the one the verified claims name.
func peekIssuer(tok string) (string, *tokenError) {
	_, rest, _ := strings.Cut(tok, ".")
	p64, _, _ := strings.Cut(rest, ".")
	pb, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return "", refuse(ReasonMalformedToken, "access token is not a compact JWS")
	}
	var c struct {
		Iss *string `json:"iss"`
	}
	if err := strictjson.Unmarshal(pb, &c); err != nil {
		return "", &tokenError{reason: ReasonBadClaim, desc: "access token claims are not a JSON object of the right types", err: err}
	}
	if c.Iss == nil || *c.Iss == "" {
		return "", refuse(ReasonMissingClaim, "access token has no iss")
	}
	return *c.Iss, nil
}

// pickJWT chooses the issuer of a JWT by its (unverified) iss, and
// refuses it, before any key fetch, when no issuer or no issuer the
// route accepts has that identifier.
func (rs *Resource) pickJWT(tok string, req Requirement) (*issuerEntry, *tokenError) {
	iss, te := peekIssuer(tok)
	if te != nil {
		return nil, te
	}
	e := rs.byIss[iss]
	switch {
	case e == nil:
		return nil, refuse(ReasonWrongIssuer, "access token is from an issuer this resource does not trust")
	case !accepts(req, e):
		return nil, refuse(ReasonIssuerNotAccepted, "access token is from an issuer this route does not accept")
	}
	return e, nil
}

// pickIntrospector chooses the issuer that introspects an opaque token:
// the one issuer with an Introspector the route accepts. An opaque token
// says nothing of its issuer, and sending it to several endpoints would
// disclose one provider's tokens to another, so a route accepting more
// than one introspecting issuer refuses opaque tokens.
func (rs *Resource) pickIntrospector(req Requirement) (*issuerEntry, *tokenError) {
	var found *issuerEntry
	for _, e := range rs.issuers {
		if e.Introspector == nil || !accepts(req, e) {
			continue
		}
		if found != nil {
			return nil, refuse(ReasonAmbiguousIssuer, "opaque access token on a route that accepts several introspecting issuers")
		}
		found = e
	}
	if found == nil {
		return nil, refuse(ReasonMalformedToken, "access token is not a JWT and this resource does not introspect tokens")
	}
	return found, nil
}

// idTokenMarks are the claims only an OpenID Connect ID token (or
// another non-access JWT) carries; a JWT with any is never an access
// token (OpenID Connect Core §2, §3.1.3.6, §3.3.2.11).
var idTokenMarks = []string{"nonce", "at_hash", "c_hash", "s_hash"}

// idToken reports why raw looks like an ID token or another JWT that
// is not an access token, or "". Under legacy-jwt it also refuses the
// shape of an ID token without those marks: auth_time with no scope
// claim at all, a payload typ other than Bearer (Keycloak: ID,
// Refresh), and token_use other than access (Amazon Cognito).
func idToken(raw map[string]json.RawMessage, p Profile, scopeClaims []string) string {
	for _, k := range idTokenMarks {
		if _, ok := raw[k]; ok {
			return "the JWT carries " + k + ": it is an ID token, not an access token"
		}
	}
	if p != ProfileLegacyJWT {
		return "" // typ at+jwt was required
	}
	if s, ok := stringClaim(raw, "typ"); ok && !strings.EqualFold(s, "Bearer") {
		return "the JWT's typ claim is " + s + ", not Bearer: it is not an access token"
	} else if _, present := raw["typ"]; present && !ok {
		return "the JWT's typ claim is not a string"
	}
	if s, ok := stringClaim(raw, "token_use"); ok && s != "access" {
		return "the JWT's token_use is " + s + ": it is not an access token"
	}
	if _, ok := raw["auth_time"]; ok && !slices.ContainsFunc(scopeClaims, func(k string) bool { _, ok := raw[k]; return ok }) {
		return "the JWT has auth_time and no scope: it is shaped as an ID token"
	}
	return ""
}

func stringClaim(raw map[string]json.RawMessage, k string) (string, bool) {
	b, ok := raw[k]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return "", false
	}
	return s, true
}

// apply reads the subject, client and scopes from a JWT's claims. A
// claim named by the mapping that is present with the wrong type is an
// error, never skipped: a token cannot pick which claim is read by
// making the first one ill-typed.
func (m ClaimMapping) apply(raw map[string]json.RawMessage) (sub, client string, scopes []string, err error) {
	if b, ok := raw[m.Subject]; ok {
		if json.Unmarshal(b, &sub) != nil {
			return "", "", nil, fmt.Errorf("claim %s is not a string", m.Subject)
		}
	}
	for _, k := range m.Client {
		if b, ok := raw[k]; ok {
			if json.Unmarshal(b, &client) != nil {
				return "", "", nil, fmt.Errorf("claim %s is not a string", k)
			}
			break
		}
	}
	for _, k := range m.Scopes {
		if b, ok := raw[k]; ok {
			if scopes, err = scopeList(b); err != nil {
				return "", "", nil, fmt.Errorf("claim %s: %w", k, err)
			}
			break
		}
	}
	return sub, client, scopes, nil
}

// scopeList parses a scope claim: a space-separated string (RFC 6749
// §3.3, RFC 9068 §2.2.3) or an array of scope tokens (Okta's scp).
func scopeList(b json.RawMessage) ([]string, error) {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		return strings.Fields(s), nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("not a string or an array of strings")
	}
	for _, s := range l {
		if s == "" || strings.ContainsAny(s, " \t\n\r\"\\") {
			return nil, fmt.Errorf("%q is not a scope token", s)
		}
	}
	return l, nil
}
