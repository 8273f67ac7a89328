package authz

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/wardauth/ward/oauth"
	"net/http"
	"time"

	"github.com/wardauth/ward/store"
)

// introspection is the response of RFC 7662 §2.2.
type introspection struct {
	Active   bool   `json:"active"`
	Scope    string `json:"scope,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Subject  string `json:"sub,omitempty"`
	// Username is the resource owner's login name (RFC 7662 §2.2), told
	// only to the token's own client (withUsername).
	Username  string   `json:"username,omitempty"`
	Audience  audience `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	Expiry    int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Cnf       *cnf     `json:"cnf,omitempty"`
}

// handleIntrospect is the introspection endpoint (RFC 7662). Callers must
// authenticate as confidential clients (resource servers, the gateway).
// An access token is active when it verifies, has not expired, was not
// revoked, its grant (family) was not revoked, and the caller may see it
// (mayIntrospect); a refresh token when it is the live head of a live
// family of the caller's own. Bound tokens carry cnf (RFC 9449 §6.2).
// The answer is JSON, or a signed JWT when the caller asks for one (RFC
// 9701, introspectjwt.go).
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.authenticateClient(r.Context(), r, form, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.introspect(r, c, form.Get("token"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Vary", "Accept")
	if wantsIntrospectionJWT(r.Header.Values("Accept")) {
		// RFC 9701 §4: the same answer, signed for the caller.
		if err := s.writeIntrospectionJWT(r.Context(), w, c, resp); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// mayIntrospect reports whether caller may see an access token issued to
// tokenClient for aud (RFC 7662 §4: the server must know that the token
// may be used at the protected resource asking). The token's own client
// may; so may a resource server: a client whose registered audiences
// (RFC 8707 resources) include one of the token's aud values. Everyone
// else is told the token is inactive, never why.
func mayIntrospect(caller *client, tokenClient string, aud []string) bool {
	if caller.ID == tokenClient {
		return true
	}
	for _, a := range aud {
		if contains(caller.Audiences, a) {
			return true
		}
	}
	return false
}

// inactive is the answer for a token the caller may not see, or that is
// unknown, expired or revoked (RFC 7662 §2.2): the same in every case.
func inactive() *introspection { return &introspection{Active: false} }

func (s *Server) introspect(r *http.Request, caller *client, tok string) (*introspection, error) {
	if tok == "" {
		return inactive(), nil
	}
	now := s.now()
	if claims, err := s.parseAccessToken(tok, now); err == nil {
		return s.introspectAccess(r.Context(), caller, claims, now)
	}
	return s.introspectRefresh(r.Context(), caller, tok, now)
}

// introspectAccess answers for a verified access token.
func (s *Server) introspectAccess(ctx context.Context, caller *client, claims *atClaims, now time.Time) (*introspection, error) {
	if !now.Before(time.Unix(claims.Expiry, 0)) || !mayIntrospect(caller, claims.ClientID, claims.Audience) {
		return inactive(), nil
	}
	revoked, err := s.st.AccessTokenRevoked(ctx, claims.JTI)
	if err != nil {
		return nil, err
	}
	if revoked {
		return inactive(), nil
	}
	if claims.GrantID != "" {
		fam, err := s.st.GetFamily(ctx, claims.GrantID)
		if errors.Is(err, store.ErrNotFound) || err == nil && fam.Revoked() {
			return inactive(), nil
		}
		if err != nil {
			return nil, err
		}
	}
	out := &introspection{
		Active: true, Scope: claims.Scope, ClientID: claims.ClientID, Subject: claims.Subject,
		Audience: claims.Audience, Issuer: claims.Issuer, Expiry: claims.Expiry, IssuedAt: claims.IssuedAt,
		JTI: claims.JTI, TokenType: oauth.TokenTypeBearer, Cnf: claims.Cnf,
	}
	if claims.Cnf != nil && claims.Cnf.JKT != "" {
		out.TokenType = oauth.TokenTypeDPoP
	}
	return s.withUsername(ctx, caller, out)
}

// introspectRefresh answers for anything else: a refresh token or nothing.
func (s *Server) introspectRefresh(ctx context.Context, caller *client, tok string, now time.Time) (*introspection, error) {
	rt, fam, err := s.st.GetRefreshToken(ctx, hashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		return inactive(), nil
	}
	if err != nil {
		return nil, err
	}
	// RFC 6749 §10.4, RFC 7662 §4: a refresh token is for the
	// authorization server and its own client only, never a resource
	// server, so only that client learns it is active.
	if fam.ClientID != caller.ID || fam.Revoked() || !rt.RotatedAt.IsZero() || !now.Before(rt.ExpiresAt) || !now.Before(fam.ExpiresAt) {
		return inactive(), nil
	}
	// The sub the client knows the user by, as in its tokens (subject.go).
	sub, err := s.subject(caller.Client, fam.Subject)
	if err != nil {
		return nil, err
	}
	out := &introspection{
		Active: true, Scope: rt.Scope, ClientID: fam.ClientID, Subject: sub, Issuer: s.issuer,
		Expiry: rt.ExpiresAt.Unix(), IssuedAt: rt.CreatedAt.Unix(), TokenType: oauth.HintRefreshToken,
		Audience: fam.Resources,
	}
	if fam.JKT != "" {
		out.Cnf = &cnf{JKT: fam.JKT}
	} else if fam.CertThumbprint != "" {
		out.Cnf = &cnf{X5TS256: fam.CertThumbprint} // RFC 8705 §3.2
	}
	return s.withUsername(ctx, caller, out)
}

// withUsername adds the user's login name (RFC 7662 §2.2 username) when
// the caller is the token's own client, so an app (a BFF) can greet the
// person by name rather than by an opaque subject; a resource server
// that may introspect the token learns the subject only. A subject that
// is no user (client_credentials) adds nothing.
func (s *Server) withUsername(ctx context.Context, caller *client, out *introspection) (*introspection, error) {
	if caller.ID != out.ClientID || out.Subject == "" {
		return out, nil
	}
	u, err := s.st.GetUser(ctx, out.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return out, nil
	case err != nil:
		return nil, err
	}
	out.Username = u.Username
	return out, nil
}
