package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

var (
	idTokenAlgs  = []string{store.AlgES256, store.AlgRS256}
	subjectTypes = []string{store.SubjectPublic, store.SubjectPairwise}
)

// clientOIDC checks a client's OpenID Connect metadata (OpenID Connect
// Dynamic Client Registration 1.0 §2 defines the names).
func (v *validator) clientOIDC(cl *Client, p func(string) string) {
	v.clientSigningAlg(p("id_token_signed_response_alg"), cl.IDTokenSignedResponseAlg)
	v.clientSigningAlg(p("userinfo_signed_response_alg"), cl.UserinfoSignedResponseAlg)
	v.clientMessageSigning(cl, p)
	if cl.SubjectType != "" {
		v.oneOf(p("subject_type"), cl.SubjectType, subjectTypes...)
	}
	v.clientSector(cl, p)
	for j, u := range cl.PostLogoutRedirectURIs {
		// RP-Initiated Logout 1.0 §3: compared exactly, by the rules of
		// redirect_uris.
		up := fmt.Sprintf("%s[%d]", p("post_logout_redirect_uris"), j)
		if msg := checkRedirectURI(u); msg != "" {
			v.add(up, ErrInvalidValue, "%q %s", u, msg)
		} else if cl.AuthMethod != oauth.AuthNone && portlessLoopback(u) {
			v.add(up, ErrInvalidValue,
				"%q has no port: a confidential client's loopback URI is compared exactly, port included; write the port its listener uses", u)
		}
	}
	if u := cl.BackchannelLogoutURI; u != "" {
		if msg := checkBackchannelURI(u); msg != "" {
			v.add(p("backchannel_logout_uri"), ErrInvalidValue, "%q %s", u, msg)
		}
	} else if cl.BackchannelLogoutSessionRequired {
		v.add(p("backchannel_logout_session_required"), ErrInvalidValue, "needs backchannel_logout_uri")
	}
	if cl.DefaultMaxAge < 0 {
		v.add(p("default_max_age"), ErrInvalidValue, "%v is negative (0: none)", cl.DefaultMaxAge)
	}
}

// clientSigningAlg checks a client's ID token or UserInfo algorithm: ES256
// or RS256, and ES256 only when the signing keys are ES256 (keys.algorithm
// EdDSA leaves ES256 without a key; empty then means EdDSA).
func (v *validator) clientSigningAlg(path, alg string) {
	switch {
	case alg == "":
	case !slices.Contains(idTokenAlgs, alg):
		v.oneOf(path, alg, idTokenAlgs...)
	case alg == store.AlgES256 && v.c.Keys.Algorithm != "" && v.c.Keys.Algorithm != store.AlgES256:
		v.add(path, ErrInvalidValue, "ES256 needs keys.algorithm ES256 (it is %s); leave it empty for %s, or use RS256", v.c.Keys.Algorithm, v.c.Keys.Algorithm)
	}
}

// clientMessageSigning checks the algorithms of signed authorization
// (JARM §3) and introspection (RFC 9701 §6) responses, and refuses their
// encryption, which Ward does not do: a client that expects encrypted
// responses would otherwise get signed-only ones.
func (v *validator) clientMessageSigning(cl *Client, p func(string) string) {
	v.clientSigningAlg(p("authorization_signed_response_alg"), cl.AuthorizationSignedResponseAlg)
	v.clientSigningAlg(p("introspection_signed_response_alg"), cl.IntrospectionSignedResponseAlg)
	for _, e := range []struct{ key, val string }{
		{"authorization_encrypted_response_alg", cl.AuthorizationEncryptedResponseAlg},
		{"authorization_encrypted_response_enc", cl.AuthorizationEncryptedResponseEnc},
		{"introspection_encrypted_response_alg", cl.IntrospectionEncryptedResponseAlg},
		{"introspection_encrypted_response_enc", cl.IntrospectionEncryptedResponseEnc},
	} {
		if e.val != "" {
			v.add(p(e.key), ErrInvalidValue, "encrypted responses are not supported: Ward signs authorization and introspection responses and never encrypts them (docs/AUTHZ.md); remove the key")
		}
	}
}

// clientSector checks sector_identifier_uri (OIDC Core §8.1): https, and
// required for a pairwise client whose redirect URIs span several hosts,
// since the sector is otherwise the one host of its redirect URIs.
func (v *validator) clientSector(cl *Client, p func(string) string) {
	if u := cl.SectorIdentifierURI; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "https" || pu.Host == "" || pu.Fragment != "" {
			v.add(p("sector_identifier_uri"), ErrInvalidValue, "%q is not an https URL without fragment (OIDC Core §8.1)", u)
		}
		return
	}
	if cl.SubjectType != store.SubjectPairwise {
		return
	}
	hosts := map[string]bool{}
	for _, r := range cl.RedirectURIs {
		hosts[SectorHost(r)] = true
	}
	if hosts[""] {
		v.add(p("sector_identifier_uri"), ErrMissing,
			"required for a pairwise client with a redirect URI without host (a private-use scheme): the sector is a host (OIDC Core §8.1)")
	} else if len(hosts) > 1 {
		v.add(p("sector_identifier_uri"), ErrMissing,
			"required for a pairwise client whose redirect_uris have more than one host (OIDC Core §8.1)")
	}
}

// checkBackchannelURI returns why u cannot receive logout tokens, or "":
// an absolute https URL (http on a loopback address for development)
// without fragment (Back-Channel Logout 1.0 §2.2).
func checkBackchannelURI(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil || !p.IsAbs() || p.Host == "":
		return "is not an absolute URL"
	case p.Fragment != "" || strings.Contains(u, "#"):
		return "must not have a fragment (Back-Channel Logout 1.0 §2.2)"
	case p.Scheme == "https":
		return ""
	case p.Scheme == "http":
		if a, err := netip.ParseAddr(p.Hostname()); err == nil && a.IsLoopback() {
			return ""
		}
	}
	return "must use https (http only on a loopback address)"
}

// jsonNames maps the JSON names of struct type t's fields to their types.
func jsonNames(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = t.Field(i).Type
	}
	return m
}

// claimNames and addressNames: the members of store.UserClaims and
// store.Address.
var (
	claimNames   = jsonNames(reflect.TypeFor[store.UserClaims]())
	addressNames = jsonNames(reflect.TypeFor[store.Address]())
)

// ParseUserClaims parses a user's claims as declared in the configuration
// (users[].claims, JSON text): an object of OIDC Core §5.1 standard
// claims, each of its type. The error names the first bad claim.
func ParseUserClaims(text string) (store.UserClaims, error) {
	var c store.UserClaims
	if text == "" {
		return c, nil
	}
	var m map[string]json.RawMessage
	if err := strictjson.Unmarshal([]byte(text), &m); err != nil {
		return c, fmt.Errorf("not a mapping of claim names to values: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		raw := m[name]
		t, ok := claimNames[name]
		switch {
		case name == "sub" || name == "updated_at":
			return c, fmt.Errorf("claim %q is not declared: Ward sets it from the user record", name)
		case !ok:
			return c, fmt.Errorf("unknown claim %q (the standard claims of OIDC Core §5.1: name, given_name, family_name, email, email_verified, phone_number, address, ...)", name)
		}
		if name == "address" {
			var am map[string]json.RawMessage
			if strictjson.Unmarshal(raw, &am) == nil {
				for _, k := range slices.Sorted(maps.Keys(am)) {
					if _, ok := addressNames[k]; !ok {
						return c, fmt.Errorf("claim \"address\": unknown member %q (OIDC Core §5.1.1)", k)
					}
				}
			}
		}
		one, _ := json.Marshal(map[string]json.RawMessage{name: raw})
		if err := strictjson.Unmarshal(one, &c); err != nil {
			return c, fmt.Errorf("claim %q: expected %s", name, describeClaimType(t))
		}
	}
	return c, checkClaimValues(&c)
}

func describeClaimType(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.String:
		return "a string"
	case t == reflect.TypeFor[*bool]():
		return "true or false"
	case t == reflect.TypeFor[[]string]():
		return "a list of role names"
	default:
		return "a mapping of formatted, street_address, locality, region, postal_code, country"
	}
}

// checkClaimValues checks the claims whose format OIDC Core §5.1 fixes
// (CheckUserClaims, claims.go).
func checkClaimValues(c *store.UserClaims) error { return CheckUserClaims(c) }

// userClaims checks users[i].claims.
func (v *validator) userClaims(u *User, p func(string) string) {
	if _, err := ParseUserClaims(u.Claims); err != nil {
		v.add(p("claims"), ErrInvalidValue, "%v", err)
	}
}
