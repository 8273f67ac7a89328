package authz

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// This file enforces the FAPI 2.0 profiles (package fapi, docs/FAPI2.md)
// per request: config refuses the file's clients that contradict them at
// start; a client created with `ward client create`, or a stored client
// the server's profile now covers, is refused here.

// profileOf is the FAPI 2.0 profile that applies to c: the server's, or
// the client's own when stronger.
func (s *Server) profileOf(c *client) fapi.Profile {
	return fapi.Effective(s.cfg.AuthorizationServer.Profile, fapi.Profile(c.Profile))
}

// serverProfile is authorization_server.profile.
func (s *Server) serverProfile() fapi.Profile { return s.cfg.AuthorizationServer.Profile }

// fapiClient refuses an authenticated client the profile does not admit
// (FAPI 2.0 Security Profile §5.3.2.1): only confidential clients
// authenticated with private_key_jwt or mTLS (invalid_client), only
// sender-constrained tokens, no RS256 ID tokens or UserInfo (§5.4.1), and
// no profile whose features this build lacks (unauthorized_client).
func (s *Server) fapiClient(c *client) error {
	p := s.profileOf(c)
	if !p.Secure() {
		return nil
	}
	if !slices.Contains(fapi.AuthMethods, c.AuthMethod) {
		return invalidClient("%s clients are not admitted under %s: FAPI 2.0 Security Profile §5.3.2.1 admits only confidential clients authenticated with private_key_jwt, tls_client_auth or self_signed_tls_client_auth", c.AuthMethod, p)
	}
	if !slices.Contains(fapi.SenderConstraints, c.SenderConstraint) {
		return oauth.New(oauth.UnauthorizedClient, "sender_constraint %s is not admitted under %s: FAPI 2.0 Security Profile §5.3.2.1 issues only sender-constrained tokens (DPoP or mTLS)", c.SenderConstraint, p)
	}
	if c.IDTokenSignedResponseAlg == store.AlgRS256 || c.UserinfoSignedResponseAlg == store.AlgRS256 {
		return oauth.New(oauth.UnauthorizedClient, "RS256 ID tokens or UserInfo responses are not admitted under %s: FAPI 2.0 Security Profile §5.4.1 (PS256, ES256 or EdDSA only)", p)
	}
	if msg := fapi.MissingError(p); msg != "" {
		return oauth.New(oauth.UnauthorizedClient, "%s", msg)
	}
	return nil
}

// requiresPAR reports whether c must push its authorization requests:
// par.required, the client's require_par, or a profile (FAPI 2.0 Security
// Profile §5.3.2.2: requests not sent through PAR are refused).
func (s *Server) requiresPAR(c *client) bool {
	return s.cfg.PAR.Required || c.RequirePAR || s.profileOf(c).Secure()
}

// rotatesRefresh reports whether c's refresh tokens rotate on use. Under
// a profile they do not (FAPI 2.0 Security Profile §5.3.2.1: no rotation
// except in extraordinary circumstances); every client a profile admits
// is confidential. Outside a profile every client's rotate, and public
// clients' always do (RFC 9700 §4.14.2).
func (s *Server) rotatesRefresh(c *client) bool {
	return c.Public() || !s.profileOf(c).Secure()
}

var (
	errFAPIAssertionAlg = errors.New("client_assertion must be signed with PS256, ES256 or EdDSA (FAPI 2.0 Security Profile §5.4.1)")
	errFAPIAssertionAud = errors.New("client_assertion's aud must be the issuer identifier, as a single string (FAPI 2.0 Security Profile §5.3.2.1)")
)

// fapiAssertion applies the profile to a verified client assertion: the
// algorithm is one of fapi.SigningAlgs, and aud is exactly the issuer as a
// JSON string — not an array, not the token or PAR endpoint (the
// audience-injection fix of the Final profile).
func fapiAssertion(tok *jwt.JSONWebToken, issuer string) error {
	if len(tok.Headers) != 1 || !slices.Contains(fapi.SigningAlgs, tok.Headers[0].Algorithm) {
		return errFAPIAssertionAlg
	}
	var claims struct {
		Aud json.RawMessage `json:"aud"`
	}
	// The signature was verified: these are the signed claims.
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return errFAPIAssertionAud
	}
	var aud string
	if err := json.Unmarshal(claims.Aud, &aud); err != nil || aud != issuer {
		return errFAPIAssertionAud
	}
	return nil
}

// fapiAssertionAlgs narrows the assertion algorithm allow-list under a
// server-wide profile (FAPI 2.0 Security Profile §5.4.1).
func fapiAssertionAlgs(p fapi.Profile, algs []jose.SignatureAlgorithm) []jose.SignatureAlgorithm {
	if !p.Secure() {
		return algs
	}
	return slices.DeleteFunc(slices.Clone(algs), func(a jose.SignatureAlgorithm) bool {
		return !slices.Contains(fapi.SigningAlgs, string(a))
	})
}

// fapiMetadata narrows md to what the server-wide profile admits: every
// member advertises exactly what is enforced. A per-client profile leaves
// the server's document as it is; the client's registration says more.
func (s *Server) fapiMetadata(md *Metadata) {
	if !s.serverProfile().Secure() {
		return
	}
	keep := func(ms []oauth.AuthMethod) []oauth.AuthMethod {
		return slices.DeleteFunc(slices.Clone(ms), func(m oauth.AuthMethod) bool { return !slices.Contains(fapi.AuthMethods, m) })
	}
	md.TokenEndpointAuthMethodsSupported = keep(md.TokenEndpointAuthMethodsSupported)
	md.RevocationEndpointAuthMethodsSupported = keep(md.RevocationEndpointAuthMethodsSupported)
	md.IntrospectionEndpointAuthMethodsSupported = keep(md.IntrospectionEndpointAuthMethodsSupported)
	md.RequirePushedAuthorizationRequests = true

	noRS := func(algs []string) []string {
		return slices.DeleteFunc(slices.Clone(algs), func(a string) bool { return a == store.AlgRS256 })
	}
	md.IDTokenSigningAlgValuesSupported = noRS(md.IDTokenSigningAlgValuesSupported)
	md.UserinfoSigningAlgValuesSupported = noRS(md.UserinfoSigningAlgValuesSupported)
	md.AuthorizationSigningAlgValuesSupported = noRS(md.AuthorizationSigningAlgValuesSupported)
	md.IntrospectionSigningAlgValuesSupported = noRS(md.IntrospectionSigningAlgValuesSupported)
}
