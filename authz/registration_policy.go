package authz

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// Limits of registration metadata (docs/REGISTRATION.md).
const (
	maxRegistrationBytes = 16 << 10 // request body
	maxClientNameRunes   = 100
	maxRedirectURIBytes  = 2000
	maxRegisteredKeys    = 10
)

// ClientMetadata is the client metadata of a registration request and
// response (RFC 7591 §2, §3.1; RFC 9449 §5.2 dpop_bound_access_tokens).
// Members that Ward does not know are ignored (RFC 7591 §2); the RFC 7592
// members are read to refuse them where §2.2 forbids them.
type ClientMetadata struct {
	RedirectURIs            []string          `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod oauth.AuthMethod  `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []oauth.GrantType `json:"grant_types,omitempty"`
	ResponseTypes           []string          `json:"response_types,omitempty"`
	ClientName              string            `json:"client_name,omitempty"`
	ClientURI               string            `json:"client_uri,omitempty"`
	LogoURI                 string            `json:"logo_uri,omitempty"`
	Scope                   string            `json:"scope,omitempty"`
	JWKS                    json.RawMessage   `json:"jwks,omitempty"`
	JWKSURI                 string            `json:"jwks_uri,omitempty"`
	SoftwareStatement       string            `json:"software_statement,omitempty"`
	DPoPBoundAccessTokens   *bool             `json:"dpop_bound_access_tokens,omitempty"`

	// RFC 7591 §3.2.1 and RFC 7592 §2.2: sent by the server; an update
	// names client_id and carries none of the others.
	ClientID                string `json:"client_id,omitempty"`
	ClientSecret            string `json:"client_secret,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri,omitempty"`
	ClientIDIssuedAt        *int64 `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
}

// ParseClientMetadata reads a registration request body: one JSON object,
// strict (internal/strictjson: no duplicate members, no member differing
// from a known one only in case, valid UTF-8), at most 16 KiB. Every
// refusal is invalid_client_metadata (RFC 7591 §3.2.2).
func ParseClientMetadata(body []byte) (*ClientMetadata, error) {
	if len(body) > maxRegistrationBytes {
		return nil, metadataErr("the registration request exceeds %d bytes", maxRegistrationBytes)
	}
	var md ClientMetadata
	if err := strictjson.Unmarshal(body, &md); err != nil {
		return nil, metadataErr("the body is not a JSON object of client metadata: %v", err)
	}
	if md.JWKS != nil && string(md.JWKS) == "null" {
		md.JWKS = nil
	}
	return &md, nil
}

func metadataErr(format string, args ...any) *oauth.Error {
	return oauth.New(oauth.InvalidClientMetadata, format, args...)
}

// regPolicy is what a registration may ask for: open registrations
// (no initial access token) are public clients only.
type regPolicy struct {
	cfg  *config.Registration
	open bool
}

// toClient applies the policy to md and returns the client to store, or
// the RFC 7591 §3.2.2 error. Values left out take Ward's defaults, and
// dpop_bound_access_tokens is always true: every registered client is
// DPoP-bound (RFC 9449 §5.2).
func (p regPolicy) toClient(md *ClientMetadata) (*store.Client, error) {
	if md.SoftwareStatement != "" {
		return nil, oauth.New(oauth.UnapprovedSoftwareStatement, "software statements are not accepted")
	}
	c := &store.Client{Dynamic: true, SenderConstraint: store.ConstraintDPoP, Audiences: slices.Clone(p.cfg.Audiences)}
	steps := []func(*ClientMetadata, *store.Client) error{p.authMethod, p.grants, p.redirectURIs, p.scopes, p.display}
	for _, step := range steps {
		if err := step(md, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// authMethod: none or private_key_jwt with keys by value (RFC 7591 §2:
// jwks_uri is refused, so Ward never fetches a URL a client names);
// open registration is for public clients only. No client secrets.
func (p regPolicy) authMethod(md *ClientMetadata, c *store.Client) error {
	m := md.TokenEndpointAuthMethod
	if m == "" { // RFC 7591 §2 says client_secret_basic; Ward issues no secrets
		m = oauth.AuthNone
		if md.JWKS != nil {
			m = oauth.AuthPrivateKeyJWT
		}
	}
	switch {
	case md.JWKSURI != "":
		return metadataErr("jwks_uri is not accepted: send the public keys by value in jwks")
	case m != oauth.AuthNone && m != oauth.AuthPrivateKeyJWT:
		return metadataErr("token_endpoint_auth_method %q is not allowed: use none or private_key_jwt", m)
	case m != oauth.AuthNone && p.open:
		return metadataErr("registration without an initial access token is for public clients (token_endpoint_auth_method none)")
	case m == oauth.AuthNone && md.JWKS != nil:
		return metadataErr("jwks is for private_key_jwt clients")
	}
	c.AuthMethod = m
	if m == oauth.AuthPrivateKeyJWT {
		return setRegisteredKeys(md.JWKS, c)
	}
	return nil
}

// setRegisteredKeys checks a JWKS sent by value: public asymmetric keys
// only, at most maxRegisteredKeys.
func setRegisteredKeys(raw json.RawMessage, c *store.Client) error {
	var set jose.JSONWebKeySet
	if len(raw) == 0 || json.Unmarshal(raw, &set) != nil || len(set.Keys) == 0 {
		return metadataErr("private_key_jwt needs jwks with at least one public key")
	}
	if len(set.Keys) > maxRegisteredKeys {
		return metadataErr("jwks holds more than %d keys", maxRegisteredKeys)
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return metadataErr("jwks must hold valid public keys only")
		}
		if _, ok := k.Key.([]byte); ok {
			return metadataErr("jwks must hold asymmetric keys only")
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return metadataErr("jwks cannot be read")
	}
	c.JWKS = b
	return nil
}

// grants: each grant type allowed by registration.grant_types (open
// registration: authorization_code and refresh_token only);
// client_credentials only for a private_key_jwt client; response_types
// code exactly when authorization_code (RFC 7591 §2.1).
func (p regPolicy) grants(md *ClientMetadata, c *store.Client) error {
	gs := md.GrantTypes
	if len(gs) == 0 {
		gs = []oauth.GrantType{oauth.GrantAuthorizationCode} // RFC 7591 §2 default
	}
	for _, g := range gs {
		switch {
		case !slices.Contains(p.cfg.GrantTypes, g):
			return metadataErr("grant type %q is not allowed", g)
		case p.open && g == oauth.GrantClientCredentials:
			return metadataErr("open registration allows authorization_code and refresh_token only")
		case g == oauth.GrantClientCredentials && c.AuthMethod == oauth.AuthNone:
			return metadataErr("client_credentials needs a private_key_jwt client")
		}
	}
	code := slices.Contains(gs, oauth.GrantAuthorizationCode)
	rts := md.ResponseTypes
	if len(rts) == 0 && code {
		rts = []string{"code"}
	}
	if code != slices.Equal(rts, []string{"code"}) || (!code && len(rts) > 0) {
		return metadataErr("response_types must be [\"code\"] with the authorization_code grant, and empty without it")
	}
	c.GrantTypes = slices.Compact(slices.Clone(gs))
	return nil
}

// redirectURIs: required with authorization_code, at most
// registration.max_redirect_uris, each an https URI or an http URI on a
// loopback IP literal (RFC 8252 §7.3), checked by the rules of configured
// clients (config.CheckRedirectURI: no fragment, no wildcard, no
// localhost), and matched exactly later (redirect.go). invalid_redirect_uri
// (RFC 7591 §3.2.2).
func (p regPolicy) redirectURIs(md *ClientMetadata, c *store.Client) error {
	code := slices.Contains(c.GrantTypes, oauth.GrantAuthorizationCode)
	switch {
	case code && len(md.RedirectURIs) == 0:
		return oauth.New(oauth.InvalidRedirectURI, "redirect_uris is required for the authorization_code grant")
	case !code && len(md.RedirectURIs) > 0:
		return oauth.New(oauth.InvalidRedirectURI, "redirect_uris is only for the authorization_code grant")
	case len(md.RedirectURIs) > int(p.cfg.MaxRedirectURIs):
		return oauth.New(oauth.InvalidRedirectURI, "at most %d redirect URIs", p.cfg.MaxRedirectURIs)
	}
	for _, u := range md.RedirectURIs {
		if msg := checkRegisteredRedirectURI(u, c.AuthMethod != oauth.AuthNone); msg != "" {
			return oauth.New(oauth.InvalidRedirectURI, "redirect URI %s", msg)
		}
	}
	c.RedirectURIs = slices.Compact(slices.Clone(md.RedirectURIs))
	return nil
}

// checkRegisteredRedirectURI returns why u cannot be registered, or "".
func checkRegisteredRedirectURI(u string, confidential bool) string {
	if len(u) > maxRedirectURIBytes || hasControl(u) {
		return "is too long or holds control characters"
	}
	if msg := config.CheckRedirectURI(u); msg != "" {
		return msg
	}
	p, _ := url.Parse(u) // parsed by CheckRedirectURI
	switch {
	case p.Scheme != "https" && p.Scheme != "http":
		return "uses a private-use scheme: registration accepts https and loopback http only"
	case p.User != nil:
		return "has user info"
	case !asciiHost(p.Hostname()):
		// Browsers map such hosts (UTS #46: fullwidth digits, ideographic
		// full stops) before any rule here could see the address.
		return "has a host that is not ASCII: write an internationalised name in its A-label (xn--) form"
	case p.Scheme == "https" && isLoopbackOrPrivate(p.Hostname()):
		return "is https on a loopback or private address: use http on the loopback IP literal"
	case p.Scheme == "https" && numericHost(p.Hostname()):
		return "has a host that browsers read as an IPv4 address: write it as a dotted quad"
	case confidential && portlessLoopback(u):
		return "has no port: a confidential client's loopback redirect URI is compared exactly, port included"
	}
	return ""
}

// isLoopbackOrPrivate reports whether host is an IP literal that is not a
// public unicast address.
func isLoopbackOrPrivate(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && (a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() || a.IsMulticast())
}

// asciiHost reports whether host is printable ASCII only.
func asciiHost(host string) bool {
	for i := 0; i < len(host); i++ {
		if host[i] <= ' ' || host[i] >= 0x7f {
			return false
		}
	}
	return true
}

// numericHost reports whether host ends in a number (WHATWG URL, host
// parsing: a last label, after one trailing dot, of digits or 0x and hex
// digits) yet is not a dotted-quad IPv4 address: browsers read it as
// IPv4 (127.1, 2130706433, 0x7f.0.0.1, 012.0.0.1, 127.0.0.1.) or refuse
// it, while netip does not parse it, so isLoopbackOrPrivate cannot see
// the address.
func numericHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := strings.ToLower(labels[len(labels)-1])
	if last == "" {
		return false
	}
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// portlessLoopback reports whether u is an http URI on a loopback IP
// literal without a port.
func portlessLoopback(u string) bool {
	_, port, _, ok := splitLoopback(u)
	return ok && port == ""
}

// scopes: a subset of registration.scopes; none asked: all of them.
func (p regPolicy) scopes(md *ClientMetadata, c *store.Client) error {
	if md.Scope == "" {
		c.Scopes = slices.Clone(p.cfg.Scopes)
		return nil
	}
	for _, sc := range strings.Fields(md.Scope) {
		if !slices.Contains(p.cfg.Scopes, sc) {
			return metadataErr("scope %q is not allowed for registered clients", sc)
		}
		if !slices.Contains(c.Scopes, sc) {
			c.Scopes = append(c.Scopes, sc)
		}
	}
	return nil
}

// display: client_name at most 100 characters without control or format
// characters (no bidirectional overrides that would disguise it on the
// consent page); client_uri and logo_uri https only (config.CheckHTTPSURL:
// the pages link and show them).
func (p regPolicy) display(md *ClientMetadata, c *store.Client) error {
	n := md.ClientName
	if utf8.RuneCountInString(n) > maxClientNameRunes || hasControl(n) || strings.TrimSpace(n) != n {
		return metadataErr("client_name must be at most %d characters, without control or format characters or surrounding spaces", maxClientNameRunes)
	}
	for _, u := range []struct{ name, v string }{{"client_uri", md.ClientURI}, {"logo_uri", md.LogoURI}} {
		if err := config.CheckHTTPSURL(u.v); u.v != "" && err != nil {
			return metadataErr("%s: %v", u.name, err)
		}
	}
	c.Name, c.ClientURI, c.LogoURI = n, md.ClientURI, md.LogoURI
	return nil
}

// hasControl reports whether s holds a control (Cc) or format (Cf)
// character.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) })
}

// registeredMetadata is the metadata of c as the server holds it (RFC
// 7591 §3.2.1: the values in effect, defaults included).
func registeredMetadata(c *store.Client) ClientMetadata {
	t := true
	md := ClientMetadata{
		RedirectURIs: c.RedirectURIs, TokenEndpointAuthMethod: c.AuthMethod, GrantTypes: c.GrantTypes,
		ClientName: c.Name, ClientURI: c.ClientURI, LogoURI: c.LogoURI, Scope: strings.Join(c.Scopes, " "),
		DPoPBoundAccessTokens: &t, ClientID: c.ID,
	}
	if slices.Contains(c.GrantTypes, oauth.GrantAuthorizationCode) {
		md.ResponseTypes = []string{"code"}
	} else {
		md.ResponseTypes = []string{}
	}
	if len(c.JWKS) > 0 {
		md.JWKS = c.JWKS
	}
	issued := c.CreatedAt.Unix()
	md.ClientIDIssuedAt = &issued
	return md
}
