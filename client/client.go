package client

import (
	"cmp"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Endpoint describes an authorization server. Discover fills it from the
// server's metadata (RFC 8414).
type Endpoint struct {
	// Issuer is the server's issuer identifier, compared with the iss of
	// authorization responses (RFC 9207).
	Issuer string
	// AuthURL is the authorization endpoint.
	AuthURL string
	// TokenURL is the token endpoint. Required.
	TokenURL string
	// DeviceAuthorizationURL is the device authorization endpoint (RFC
	// 8628 §3.1), for DeviceAuthorize; empty when the server has none.
	DeviceAuthorizationURL string
	// PARURL is the pushed authorization request endpoint (RFC 9126),
	// used when set.
	PARURL string
	// ISSParameterSupported: the server returns iss in authorization
	// responses (RFC 9207 §3), so a response without it is refused.
	ISSParameterSupported bool
	// RevocationURL is the revocation endpoint (RFC 7009), used by
	// Revoke.
	RevocationURL string
	// IntrospectionURL is the introspection endpoint (RFC 7662), used by
	// Introspect.
	IntrospectionURL string
	// MTLSTokenURL is the token endpoint's mTLS alias
	// (mtls_endpoint_aliases, RFC 8705 §5), used instead of TokenURL
	// with WithCertificateBinding when set.
	MTLSTokenURL string
	// MTLSPARURL is the PAR endpoint's mTLS alias, used likewise.
	MTLSPARURL string
	// JWKSURI is the issuer's key set, which signs its ID tokens (OpenID
	// Connect Discovery §3).
	JWKSURI string
	// UserInfoURL is the OpenID Connect UserInfo endpoint, used by
	// UserInfo.
	UserInfoURL string
	// EndSessionURL is the RP-Initiated Logout endpoint (RP-Initiated
	// Logout 1.0 §2.1), used by EndSessionURL.
	EndSessionURL string
	// IDTokenAlgs are the server's id_token_signing_alg_values_supported:
	// IDTokenVerifier accepts those of them that are asymmetric
	// signatures (never none or HS*); DefaultIDTokenAlgs when empty.
	IDTokenAlgs []string
	// AuthorizationSigningAlgs are the server's
	// authorization_signing_alg_values_supported (JARM §4): JARMVerifier
	// accepts those of them that are asymmetric signatures;
	// DefaultIDTokenAlgs when empty.
	AuthorizationSigningAlgs []string
}

// Client is an OAuth 2.1 client of one authorization server that obtains
// only DPoP-bound tokens, all with one key. It holds no context: every
// method that talks to the network takes one. It is safe for concurrent
// use.
type Client struct {
	ep       Endpoint
	clientID string
	o        options
	tr       *Transport
	hc       *http.Client

	vOnce    sync.Once
	verifier *IDTokenVerifier
	jOnce    sync.Once
	jarm     *JARMVerifier
}

// New returns a Client for clientID at the endpoint ep.
func New(ep Endpoint, clientID string, opts ...Option) (*Client, error) {
	if ep.TokenURL == "" {
		return nil, errors.New("client: Endpoint.TokenURL is required")
	}
	if clientID == "" {
		return nil, errors.New("client: a client ID is required")
	}
	o := newOptions(opts)
	tr, err := newTransport(&o)
	if err != nil {
		return nil, err
	}
	hc := *o.httpClient
	if o.certBound {
		// RFC 8705: the TLS connection is the proof; no DPoP proof is
		// sent, so that the token is bound to the certificate.
		ep.TokenURL = cmp.Or(ep.MTLSTokenURL, ep.TokenURL)
		ep.PARURL = cmp.Or(ep.MTLSPARURL, ep.PARURL)
	} else {
		hc.Transport = tr
	}
	return &Client{ep: ep, clientID: clientID, o: o, tr: tr, hc: &hc}, nil
}

// Discover reads the authorization server metadata of issuer (RFC 8414
// §3: <issuer>/.well-known/oauth-authorization-server, falling back to
// OpenID Connect's openid-configuration), checks that it names the same
// issuer (§3.3), and returns a Client for clientID.
func Discover(ctx context.Context, issuer, clientID string, opts ...Option) (*Client, error) {
	ep, err := DiscoverEndpoint(ctx, issuer, opts...)
	if err != nil {
		return nil, err
	}
	return New(ep, clientID, opts...)
}

// DiscoverEndpoint reads issuer's metadata as Discover does.
func DiscoverEndpoint(ctx context.Context, issuer string, opts ...Option) (Endpoint, error) {
	o := newOptions(opts)
	issuer = strings.TrimSuffix(issuer, "/")
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Endpoint{}, fmt.Errorf("client: issuer %q is not an http(s) URL", issuer)
	}
	var lastErr error
	// RFC 8414 §3.1: the well-known segment goes between host and path.
	// An OpenID Connect client reads OpenID Connect Discovery first.
	wks := []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}
	if wantsOpenID(o.scopes) {
		wks[0], wks[1] = wks[1], wks[0]
	}
	for _, wk := range wks {
		mu := u.Scheme + "://" + u.Host + wk + u.Path
		if wk == "/.well-known/openid-configuration" {
			mu = issuer + wk // OpenID Connect Discovery §4
		}
		var md struct {
			Issuer                             string   `json:"issuer"`
			AuthorizationEndpoint              string   `json:"authorization_endpoint"`
			TokenEndpoint                      string   `json:"token_endpoint"`
			PushedAuthorizationRequestEndpoint string   `json:"pushed_authorization_request_endpoint"`
			DeviceAuthorizationEndpoint        string   `json:"device_authorization_endpoint"`
			ISSParameterSupported              bool     `json:"authorization_response_iss_parameter_supported"`
			RevocationEndpoint                 string   `json:"revocation_endpoint"`
			IntrospectionEndpoint              string   `json:"introspection_endpoint"`
			JWKSURI                            string   `json:"jwks_uri"`
			UserInfoEndpoint                   string   `json:"userinfo_endpoint"`
			EndSessionEndpoint                 string   `json:"end_session_endpoint"`
			IDTokenAlgs                        []string `json:"id_token_signing_alg_values_supported"`
			AuthorizationSigningAlgs           []string `json:"authorization_signing_alg_values_supported"`
			MTLSAliases                        struct {
				TokenEndpoint                      string `json:"token_endpoint"`
				PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint"`
			} `json:"mtls_endpoint_aliases"`
		}
		if lastErr = getJSON(ctx, o.httpClient, mu, &md); lastErr != nil {
			continue
		}
		if md.Issuer != issuer {
			return Endpoint{}, fmt.Errorf("%w: metadata at %s names issuer %q, want %q (RFC 8414 §3.3)", ErrBadResponse, mu, md.Issuer, issuer)
		}
		if md.TokenEndpoint == "" {
			return Endpoint{}, fmt.Errorf("%w: metadata at %s has no token_endpoint", ErrBadResponse, mu)
		}
		return Endpoint{
			Issuer:                   issuer,
			AuthURL:                  md.AuthorizationEndpoint,
			TokenURL:                 md.TokenEndpoint,
			PARURL:                   md.PushedAuthorizationRequestEndpoint,
			DeviceAuthorizationURL:   md.DeviceAuthorizationEndpoint,
			ISSParameterSupported:    md.ISSParameterSupported,
			RevocationURL:            md.RevocationEndpoint,
			IntrospectionURL:         md.IntrospectionEndpoint,
			MTLSTokenURL:             md.MTLSAliases.TokenEndpoint,
			MTLSPARURL:               md.MTLSAliases.PushedAuthorizationRequestEndpoint,
			JWKSURI:                  md.JWKSURI,
			UserInfoURL:              md.UserInfoEndpoint,
			EndSessionURL:            md.EndSessionEndpoint,
			IDTokenAlgs:              md.IDTokenAlgs,
			AuthorizationSigningAlgs: md.AuthorizationSigningAlgs,
		}, nil
	}
	return Endpoint{}, fmt.Errorf("client: discover %s: %w", issuer, lastErr)
}

func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: %s", ErrBadResponse, u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrBadResponse, u, err)
	}
	return nil
}

// Endpoint returns the server's endpoints.
func (c *Client) Endpoint() Endpoint { return c.ep }

// Thumbprint returns the RFC 7638 thumbprint of the DPoP key, the cnf.jkt
// of the tokens this client obtains.
func (c *Client) Thumbprint() string { return c.tr.Thumbprint() }

// Key returns the DPoP key.
func (c *Client) Key() crypto.Signer { return c.tr.Key() }

// Transport returns the DPoP Transport every request of this client goes
// through.
func (c *Client) Transport() *Transport { return c.tr }

// HTTPClient returns an *http.Client that sends each request with
// "Authorization: DPoP <token>" from ts and a fresh proof bound to it,
// getting the token with the request's context. ts is typically a
// *TokenSource of this Client; any oauth2.TokenSource whose tokens are
// bound to this Client's key works.
func (c *Client) HTTPClient(ts oauth2.TokenSource) *http.Client {
	hc := *c.hc
	hc.Transport = &authTransport{src: ts, next: c.tr}
	return &hc
}

// authTransport sets the Authorization header from a token source.
type authTransport struct {
	src  oauth2.TokenSource
	next http.RoundTripper
}

func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var tok *oauth2.Token
	var err error
	if cs, ok := a.src.(interface {
		TokenContext(context.Context) (*oauth2.Token, error)
	}); ok {
		tok, err = cs.TokenContext(req.Context())
	} else {
		tok, err = a.src.Token()
	}
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "DPoP "+tok.AccessToken)
	return a.next.RoundTrip(r)
}

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	ExpiresIn    json.Number `json:"expires_in"`
	RefreshToken string      `json:"refresh_token"`
	Scope        string      `json:"scope"`
	IDToken      string      `json:"id_token"`
}

// authenticate adds client authentication to a token or PAR request.
func (c *Client) authenticate(req *http.Request, form url.Values) error {
	switch {
	case c.o.assertionKey != nil:
		a, err := c.assertion(req.URL.String())
		if err != nil {
			return err
		}
		form.Set("client_id", c.clientID)
		form.Set("client_assertion_type", oauth.ClientAssertionJWTBearer)
		form.Set("client_assertion", a)
	case c.o.secret == "":
		form.Set("client_id", c.clientID)
	case c.o.authStyle == AuthStylePost:
		form.Set("client_id", c.clientID)
		form.Set("client_secret", c.o.secret)
	default:
		// RFC 6749 §2.3.1: form-urlencode before Basic.
		req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.o.secret))
	}
	return nil
}

// postForm sends an authenticated form to endpoint through the DPoP
// transport and decodes a JSON answer into out, or returns a
// *RetrieveError.
func (c *Client) postForm(ctx context.Context, endpoint string, form url.Values, okStatus int, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := c.authenticate(req, form); err != nil {
		return err
	}
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// The form carries credentials (client assertion or secret, codes,
	// subject and refresh tokens): never re-sent to a redirect's Location,
	// which net/http does for 307 and 308 even to another host. A
	// redirect is the answer, a failed request (the 307 re-POST of
	// RFC 9700 §4.12, here against the client).
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: POST %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("client: POST %s: %w", endpoint, err)
	}
	if resp.StatusCode != okStatus && !(okStatus == http.StatusCreated && resp.StatusCode == http.StatusOK) {
		re := &RetrieveError{Response: resp, Body: b[:min(len(b), maxErrorBody)]}
		var e struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
			ErrorURI         string `json:"error_uri"`
		}
		if json.Unmarshal(b, &e) == nil {
			re.ErrorCode, re.ErrorDescription, re.ErrorURI = e.Error, e.ErrorDescription, e.ErrorURI
		}
		return re
	}
	if out == nil { // an answer without a body, such as revocation's
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("%w: POST %s: content type %q, want application/json", ErrBadResponse, endpoint, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: POST %s: %v", ErrBadResponse, endpoint, err)
	}
	return nil
}

// token sends a token request and checks that the answer is a DPoP-bound
// token.
func (c *Client) token(ctx context.Context, form url.Values) (*oauth2.Token, error) {
	tok, _, err := c.tokenRaw(ctx, form)
	return tok, err
}

// tokenRaw is token, with the map of the response's members that the
// token's Extra reads (so that a verified ID token can join them).
func (c *Client) tokenRaw(ctx context.Context, form url.Values) (*oauth2.Token, map[string]any, error) {
	if len(c.o.resources) > 0 && form.Get("grant_type") != string(oauth.GrantRefreshToken) {
		for _, r := range c.o.resources {
			form.Add("resource", r)
		}
	}
	var body json.RawMessage
	if err := c.postForm(ctx, c.ep.TokenURL, form, http.StatusOK, &body); err != nil {
		return nil, nil, err
	}
	var tr tokenResponse
	var raw map[string]any
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, nil, fmt.Errorf("%w: token response: %v", ErrBadResponse, err)
	}
	_ = json.Unmarshal(body, &raw)
	if tr.AccessToken == "" {
		return nil, nil, fmt.Errorf("%w: token response without access_token", ErrBadResponse)
	}
	tokenType := oauth.TokenTypeDPoP
	switch {
	case c.o.certBound && !strings.EqualFold(tr.TokenType, oauth.TokenTypeBearer):
		return nil, nil, fmt.Errorf("%w: token_type %q, want Bearer (RFC 8705 §3)", ErrNotCertificateBound, tr.TokenType)
	case c.o.certBound:
		tokenType = oauth.TokenTypeBearer
	case !strings.EqualFold(tr.TokenType, oauth.TokenTypeDPoP):
		return nil, nil, fmt.Errorf("%w: token_type %q", ErrNotDPoPBound, tr.TokenType)
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tokenType, RefreshToken: tr.RefreshToken}
	if tr.ExpiresIn != "" {
		secs, err := tr.ExpiresIn.Int64()
		if err != nil || secs < 0 {
			return nil, nil, fmt.Errorf("%w: expires_in %q", ErrBadResponse, tr.ExpiresIn)
		}
		tok.ExpiresIn = secs
		tok.Expiry = c.o.clock().Add(time.Duration(secs) * time.Second)
	}
	if raw == nil {
		raw = map[string]any{}
	}
	return tok.WithExtra(raw), raw, nil
}

// ClientCredentials obtains a DPoP-bound token with the client credentials
// grant (RFC 6749 §4.4). For a token kept fresh, use
// ClientCredentialsTokenSource.
func (c *Client) ClientCredentials(ctx context.Context) (*oauth2.Token, error) {
	form := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}}
	if len(c.o.scopes) > 0 {
		form.Set("scope", strings.Join(c.o.scopes, " "))
	}
	return c.token(ctx, form)
}

// Refresh redeems refreshToken for a new DPoP-bound token (RFC 6749 §6)
// with this client's key; the answer carries the rotated refresh token,
// or the old one when the server does not rotate.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	tok, err := c.token(ctx, url.Values{"grant_type": {string(oauth.GrantRefreshToken)}, "refresh_token": {refreshToken}})
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	return tok, nil
}

// Exchange redeems an authorization code with its PKCE verifier (RFC 6749
// §4.1.3, RFC 7636 §4.5).
func (c *Client) Exchange(ctx context.Context, code, verifier, redirectURI string) (*oauth2.Token, error) {
	tok, _, err := c.exchange(ctx, code, verifier, redirectURI)
	return tok, err
}

func (c *Client) exchange(ctx context.Context, code, verifier, redirectURI string) (*oauth2.Token, map[string]any, error) {
	return c.tokenRaw(ctx, url.Values{
		"grant_type":    {string(oauth.GrantAuthorizationCode)},
		"code":          {code},
		"code_verifier": {verifier},
		"redirect_uri":  {redirectURI},
	})
}
