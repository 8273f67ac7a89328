package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/store"
)

// Clauses of the FAPI 2.0 Security Profile (Final) cited by refusals.
const (
	clauseTLS      = "FAPI 2.0 Security Profile §5.2.1 (TLS-protected endpoints)"
	clauseClients  = "FAPI 2.0 Security Profile §5.3.2.1 (confidential clients authenticated with private_key_jwt or mTLS)"
	clauseSender   = "FAPI 2.0 Security Profile §5.3.2.1 (sender-constrained access tokens only, DPoP or mTLS)"
	clausePARTTL   = "FAPI 2.0 Security Profile §5.3.2.2 (request_uri expires_in less than 600 seconds)"
	clauseAlgs     = "FAPI 2.0 Security Profile §5.4.1 (PS256, ES256 or EdDSA only; never RS256)"
	clauseIatSkew  = "FAPI 2.0 Security Profile §5.3.2.1 (JWTs with an iat up to 10 seconds in the future are accepted)"
	clauseCodeTTL  = "FAPI 2.0 Security Profile §5.3.2.1 (authorization codes live at most 60 seconds)"
	clauseLoosened = "a client may tighten authorization_server.profile, never loosen it"
)

// AnyProfile reports whether a FAPI 2.0 profile applies to the server or
// to any client of the file: the server-wide values it locks (the DPoP
// clock skew, the DPoP algorithms) then follow it.
func (c *Config) AnyProfile() bool {
	if c.AuthorizationServer.Profile.Secure() {
		return true
	}
	return slices.ContainsFunc(c.Clients, func(cl Client) bool { return cl.Profile.Secure() })
}

// profile checks authorization_server.profile and, when any profile
// applies, the server-wide settings it locks.
func (v *validator) profile() {
	c := v.c
	p := c.AuthorizationServer.Profile
	if _, err := fapi.Parse(string(p)); err != nil {
		v.add("authorization_server.profile", ErrInvalidValue, "%q is not one of %s (or empty)", p, strings.Join(names(fapi.Profiles), ", "))
		return
	}
	if msg := fapi.MissingError(p); msg != "" {
		v.add("authorization_server.profile", ErrInvalidValue, "%s", msg)
	}
	if !c.AnyProfile() {
		return
	}
	key := "authorization_server.profile"
	if !p.Secure() {
		key = "clients[].profile"
	}
	if u, err := url.Parse(c.Issuer); c.AuthorizationServer.Enabled && (err != nil || u.Scheme != "https") {
		v.add("issuer", ErrInvalidValue, "%q must be https under %s: %s", c.Issuer, key, clauseTLS)
	}
	for i, a := range c.DPoP.Algorithms {
		if !slices.Contains(fapi.SigningAlgs, a) {
			v.add(fmt.Sprintf("dpop.algorithms[%d]", i), ErrInvalidValue, "%q is not allowed under %s: %s", a, key, clauseAlgs)
		}
	}
	if c.line("dpop.iat_leeway") > 0 && c.DPoP.IatLeeway < fapi.IatLeeway {
		v.add("dpop.iat_leeway", ErrInvalidValue, "%v is below %v under %s: %s", c.DPoP.IatLeeway, fapi.IatLeeway, key, clauseIatSkew)
	}
	if c.PAR.TTL >= fapi.MaxPARTTL {
		v.add("par.ttl", ErrInvalidValue, "%v is not below %v under %s: %s", c.PAR.TTL, fapi.MaxPARTTL, key, clausePARTTL)
	}
	if c.Tokens.CodeTTL > fapi.MaxCodeTTL {
		v.add("tokens.code_ttl", ErrInvalidValue, "%v exceeds %v under %s: %s", c.Tokens.CodeTTL, fapi.MaxCodeTTL, key, clauseCodeTTL)
	}
}

// clientProfile checks a client under a profile, its own or the server's:
// confidential, authenticated with private_key_jwt or mTLS, tokens
// sender-constrained, JWTs signed with the profile's algorithms.
func (v *validator) clientProfile(cl *Client, p func(string) string) {
	server := v.c.AuthorizationServer.Profile
	if _, err := fapi.Parse(string(cl.Profile)); err != nil {
		v.add(p("profile"), ErrInvalidValue, "%q is not one of %s (or empty)", cl.Profile, strings.Join(names(fapi.Profiles), ", "))
		return
	}
	if cl.Profile != fapi.None && cl.Profile.Weaker(server) {
		v.add(p("profile"), ErrInvalidValue, "%s is weaker than authorization_server.profile %s: %s", cl.Profile, server, clauseLoosened)
	}
	if msg := fapi.MissingError(cl.Profile); msg != "" && !server.Secure() {
		v.add(p("profile"), ErrInvalidValue, "%s", msg)
	}
	eff := fapi.Effective(server, cl.Profile)
	if !eff.Secure() {
		return
	}
	under := "under " + string(eff)
	if !slices.Contains(fapi.AuthMethods, cl.AuthMethod) && cl.AuthMethod != "" {
		v.add(p("auth_method"), ErrInvalidValue, "%s is not allowed %s: %s; use one of %s",
			cl.AuthMethod, under, clauseClients, strings.Join(names(fapi.AuthMethods), ", "))
	}
	if sc := cl.SenderConstraint; sc != "" && !slices.Contains(fapi.SenderConstraints, sc) {
		v.add(p("sender_constraint"), ErrInvalidValue, "%s is not allowed %s: %s; use one of %s",
			sc, under, clauseSender, strings.Join(fapi.SenderConstraints, ", "))
	}
	for _, k := range []struct{ key, alg string }{
		{"id_token_signed_response_alg", cl.IDTokenSignedResponseAlg},
		{"userinfo_signed_response_alg", cl.UserinfoSignedResponseAlg},
	} {
		if k.alg == store.AlgRS256 {
			v.add(p(k.key), ErrInvalidValue, "%s is not allowed %s: %s", k.alg, under, clauseAlgs)
		}
	}
}
