package authz

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// This file is the token exchange grant (RFC 8693) for call chains: a
// service that received a user's access token exchanges it for one aimed at
// the next service, narrowed and bound to its own key, with the chain of
// actors in act. docs/DELEGATION.md states the rules; the error codes
// follow RFC 8693 §2.2.2: anything wrong with subject_token or actor_token,
// or refused by policy, is invalid_request; a target not allowed is
// invalid_target.

// maxExchangeTargets bounds the audience and resource values of one request.
const maxExchangeTargets = 8

// exchangeRequest is a parsed token exchange request (RFC 8693 §2.1).
type exchangeRequest struct {
	subjectToken string
	actorToken   string
	targets      []string // audience and resource values, deduplicated
	scope        string   // the scope parameter, normalised
	scopeSet     bool
}

// exchangeSingle are the parameters that may appear at most once.
var exchangeSingle = []string{"subject_token", "subject_token_type", "actor_token", "actor_token_type", "requested_token_type", "scope"}

// parseExchangeForm reads the parameters of RFC 8693 §2.1. Ward exchanges
// its own access tokens for access tokens: every token type is
// urn:ietf:params:oauth:token-type:access_token.
func parseExchangeForm(form url.Values) (*exchangeRequest, error) {
	for _, k := range exchangeSingle {
		if len(form[k]) > 1 {
			return nil, oauth.New(oauth.InvalidRequest, "%s is repeated", k)
		}
	}
	req := &exchangeRequest{subjectToken: form.Get("subject_token"), actorToken: form.Get("actor_token")}
	if req.subjectToken == "" {
		return nil, oauth.New(oauth.InvalidRequest, "subject_token is missing")
	}
	if err := tokenTypeParam("subject_token_type", form.Get("subject_token_type"), true); err != nil {
		return nil, err
	}
	// §2.1: actor_token_type is required with actor_token, and must not
	// be sent without it.
	if err := tokenTypeParam("actor_token_type", form.Get("actor_token_type"), req.actorToken != ""); err != nil {
		return nil, err
	}
	if rt := form.Get("requested_token_type"); rt != "" && rt != oauth.TokenTypeAccessToken {
		return nil, oauth.New(oauth.InvalidRequest, "requested_token_type must be %s", oauth.TokenTypeAccessToken)
	}
	var err error
	if req.targets, err = exchangeTargetParams(form); err != nil {
		return nil, err
	}
	if _, req.scopeSet = form["scope"]; req.scopeSet {
		if req.scope, err = normaliseScope(form.Get("scope")); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// tokenTypeParam checks a *_token_type parameter: required when want,
// absent otherwise, and only ever the access token type.
func tokenTypeParam(name, v string, want bool) error {
	switch {
	case want && v == "":
		return oauth.New(oauth.InvalidRequest, "%s is missing", name)
	case !want && v != "":
		return oauth.New(oauth.InvalidRequest, "%s without its token (RFC 8693 §2.1)", name)
	case want && v != oauth.TokenTypeAccessToken:
		return oauth.New(oauth.InvalidRequest, "%s must be %s", name, oauth.TokenTypeAccessToken)
	}
	return nil
}

// exchangeTargetParams reads audience and resource (RFC 8693 §2.1, RFC
// 8707 §2): at least one is required; a resource is an absolute URI
// without fragment.
func exchangeTargetParams(form url.Values) ([]string, error) {
	all := append(slices.Clone(form["audience"]), form["resource"]...)
	if len(all) == 0 {
		return nil, oauth.New(oauth.InvalidRequest, "audience or resource is required: an exchanged token is aimed at a named service")
	}
	if len(all) > maxExchangeTargets {
		return nil, oauth.New(oauth.InvalidTarget, "at most %d audience and resource values", maxExchangeTargets)
	}
	for _, r := range form["resource"] {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || strings.Contains(r, "#") {
			return nil, oauth.New(oauth.InvalidTarget, "resource must be an absolute URI without fragment")
		}
	}
	for _, a := range form["audience"] {
		if a == "" {
			return nil, oauth.New(oauth.InvalidTarget, "audience is empty")
		}
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// grantTokenExchange is the token exchange grant (RFC 8693 §2): the
// exchanging client proves who it is and its own key; the new token keeps
// the subject token's subject and grant, narrows its audience, scope and
// lifetime, names the client in act (§4.1) and is bound to the client's
// key. No refresh token is issued.
func (s *Server) grantTokenExchange(r *http.Request, form url.Values, c *client) (*tokenResponse, error) {
	resp, err := s.tokenExchange(r, form, c)
	if e, ok := errors.AsType[*oauth.Error](err); ok && e.Code != oauth.ServerError {
		s.emit(r, secevent.Event{Type: secevent.ExchangeRefused, ClientID: c.ID, Reason: e.Code})
	}
	return resp, err
}

func (s *Server) tokenExchange(r *http.Request, form url.Values, c *client) (*tokenResponse, error) {
	ctx := r.Context()
	pol, err := s.exchangePolicy(c)
	if err != nil {
		return nil, err
	}
	req, err := parseExchangeForm(form)
	if err != nil {
		return nil, err
	}
	for _, t := range req.targets {
		if !slices.Contains(pol.Audiences, t) {
			return nil, oauth.New(oauth.InvalidTarget, "%q is not an audience this client may exchange tokens for", truncate(t, 128))
		}
	}
	now := s.now()
	sub, err := s.subjectToken(ctx, req.subjectToken, c, pol, now)
	if err != nil {
		return nil, err
	}
	if err := s.actorToken(ctx, req.actorToken, c, now); err != nil {
		return nil, err
	}
	scope, err := exchangeScope(req, sub.Scope, pol.Scopes)
	if err != nil {
		return nil, err
	}
	b, err := s.proveSender(ctx, r, c, "", "")
	if err != nil {
		return nil, err
	}
	if b.jkt == "" && b.x5t == "" {
		return nil, oauth.New(oauth.InvalidRequest, "an exchanged token is always sender-constrained: send a DPoP proof or call over mTLS")
	}
	ttl := exchangeTTL(s.accessTokenTTL(c), sub.Expiry, now)
	if ttl < time.Second {
		return nil, oauth.New(oauth.InvalidRequest, "subject_token expires within a second")
	}
	// Expiry caps the lifetime at the subject token's, read again when
	// signing (signAccessToken): a slow request cannot stretch it.
	claims := atClaims{Subject: sub.Subject, Audience: req.targets, Scope: scope, GrantID: sub.GrantID, AuthTime: sub.AuthTime,
		Act: &actor{Subject: c.ID, Act: sub.Act}, Expiry: sub.Expiry}
	resp, err := s.signAccessToken(c, &claims, b, ttl)
	if err != nil {
		return nil, err
	}
	resp.IssuedTokenType = oauth.TokenTypeAccessToken // §2.2.1
	return resp, nil
}

// exchangePolicy is the client's token_exchange policy. Only a
// confidential client authenticated by its key — private_key_jwt or a
// client certificate — that lists the grant and has a policy may
// exchange tokens.
func (s *Server) exchangePolicy(c *client) (*config.TokenExchange, error) {
	switch c.AuthMethod {
	case oauth.AuthPrivateKeyJWT, oauth.AuthTLSClient, oauth.AuthSelfSignedTLSClient:
	default:
		return nil, oauth.New(oauth.UnauthorizedClient, "token exchange needs a client authenticated with private_key_jwt or a client certificate")
	}
	if err := checkGrantAllowed(c, oauth.GrantTokenExchange); err != nil {
		return nil, err
	}
	for i := range s.cfg.Clients {
		if cl := &s.cfg.Clients[i]; cl.ID == c.ID && cl.TokenExchange != nil {
			return cl.TokenExchange, nil
		}
	}
	return nil, oauth.New(oauth.UnauthorizedClient, "this client has no token_exchange policy")
}

// subjectToken verifies subject_token: an access token of this server
// (signature by a published key, an explicit algorithm allow-list, typ,
// iss: parseAccessToken), live (not expired, not revoked, its grant not
// revoked), aimed at the exchanging client (its aud holds one of the
// policy's subject_audiences, so a stolen token cannot be exchanged by
// another client), exchangeable by it (may_act, §4.4) and with room for
// one more actor in the chain. The token's own DPoP or certificate binding
// is not re-proved here: the exchanging service verified it when the token
// was presented to it (docs/DELEGATION.md).
func (s *Server) subjectToken(ctx context.Context, raw string, c *client, pol *config.TokenExchange, now time.Time) (*atClaims, error) {
	claims, err := s.liveAccessToken(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(claims.Audience, func(a string) bool { return slices.Contains(pol.SubjectAudiences, a) }) {
		return nil, oauth.New(oauth.InvalidRequest, "subject_token is not aimed at this client: its audience is none of the client's subject_audiences")
	}
	if claims.MayAct != nil && claims.MayAct.Subject != c.ID {
		return nil, oauth.New(oauth.InvalidRequest, "subject_token's may_act does not name this client (RFC 8693 §4.4)")
	}
	if claims.Act.depth()+1 > pol.ChainDepth() {
		return nil, oauth.New(oauth.InvalidRequest, "the act chain would exceed this client's max_chain_depth of %d", pol.ChainDepth())
	}
	return claims, nil
}

// actorToken verifies the optional actor_token: the exchanging client's
// own live access token (sub and client_id its client_id). The client has
// already authenticated, so the token adds nothing but must not name
// anyone else.
func (s *Server) actorToken(ctx context.Context, raw string, c *client, now time.Time) error {
	if raw == "" {
		return nil
	}
	claims, err := s.liveAccessToken(ctx, raw, now)
	if err != nil {
		return oauth.New(oauth.InvalidRequest, "actor_token is not a live access token of this server")
	}
	if claims.Subject != c.ID || claims.ClientID != c.ID {
		return oauth.New(oauth.InvalidRequest, "actor_token must be an access token of the exchanging client itself")
	}
	return nil
}

// liveAccessToken verifies an access token of this server that has not
// expired and was not revoked, nor was its grant.
func (s *Server) liveAccessToken(ctx context.Context, raw string, now time.Time) (*atClaims, error) {
	claims, err := s.parseAccessToken(raw, now)
	if err != nil {
		return nil, oauth.New(oauth.InvalidRequest, "subject_token is not an access token of this server")
	}
	if !now.Before(time.Unix(claims.Expiry, 0)) {
		return nil, oauth.New(oauth.InvalidRequest, "subject_token has expired")
	}
	revoked, err := s.st.AccessTokenRevoked(ctx, claims.JTI)
	if err != nil {
		return nil, oauth.Wrap(err, "cannot check the token's revocation")
	}
	if !revoked && claims.GrantID != "" {
		fam, err := s.st.GetFamily(ctx, claims.GrantID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			revoked = true
		case err != nil:
			return nil, oauth.Wrap(err, "cannot read the token's grant")
		default:
			revoked = fam.Revoked()
		}
	}
	if revoked {
		return nil, oauth.New(oauth.InvalidRequest, "subject_token was revoked")
	}
	return claims, nil
}

// exchangeScope is the scope of the exchanged token: the requested scope,
// each of which the subject token and the policy hold (else
// invalid_scope); without a request, what both hold.
func exchangeScope(req *exchangeRequest, subject string, policy []string) (string, error) {
	held := strings.Fields(subject)
	if !req.scopeSet {
		var out []string
		for _, sc := range held {
			if slices.Contains(policy, sc) {
				out = append(out, sc)
			}
		}
		return strings.Join(out, " "), nil
	}
	for _, sc := range strings.Fields(req.scope) {
		if !slices.Contains(held, sc) || !slices.Contains(policy, sc) {
			return "", oauth.New(oauth.InvalidScope, "scope %q is wider than the subject token's or this client's policy", truncate(sc, 64))
		}
	}
	return req.scope, nil
}

// exchangeTTL is the client's access token lifetime, never past the
// subject token's expiry (docs/DELEGATION.md).
func exchangeTTL(ttl time.Duration, subjectExp int64, now time.Time) time.Duration {
	left := time.Unix(subjectExp, 0).Sub(now).Truncate(time.Second)
	return min(ttl, left)
}

// normaliseScope checks the scope-tokens of a scope parameter (RFC 6749
// §3.3) and drops repeats.
func normaliseScope(v string) (string, error) {
	var out []string
	for _, f := range strings.Fields(v) {
		if !validScopeToken(f) {
			return "", oauth.New(oauth.InvalidScope, "malformed scope")
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return strings.Join(out, " "), nil
}
