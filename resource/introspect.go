package resource

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrIntrospection: the introspection endpoint failed or answered
// something unusable.
var ErrIntrospection = errors.New("resource: introspection failed")

// Introspection is an RFC 7662 §2.2 introspection response.
type Introspection struct {
	Active    bool
	Issuer    string
	Subject   string
	ClientID  string
	Scope     string
	Audience  []string
	TokenID   string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	// JKT is cnf.jkt (RFC 9449 §6.2); X5TS256 is cnf.x5t#S256 (RFC 8705).
	JKT, X5TS256 string
}

// Introspector asks the authorization server about an opaque token
// (RFC 7662). A token the server does not know is an Introspection with
// Active false, not an error.
type Introspector interface {
	Introspect(ctx context.Context, token string) (*Introspection, error)
}

var _ Introspector = (*RemoteIntrospector)(nil)
var _ MetadataSource = (*RemoteKeys)(nil)

// MetadataSource supplies an issuer's metadata; RemoteKeys is one.
type MetadataSource interface {
	Metadata(ctx context.Context) (*ASMetadata, error)
}

// RemoteIntrospector calls an RFC 7662 endpoint, authenticating as a
// client (RFC 7662 §2.1) with client_secret_basic, or with
// private_key_jwt (RFC 7523 §2.2) when PrivateKey is set.
type RemoteIntrospector struct {
	// Endpoint is the introspection endpoint; when empty it is the
	// introspection_endpoint of Metadata's document.
	Endpoint string
	Metadata MetadataSource
	ClientID string
	// ClientSecret authenticates with client_secret_basic.
	ClientSecret string
	// PrivateKey authenticates with a client assertion instead: an
	// *ecdsa.PrivateKey on P-256 (ES256), an ed25519.PrivateKey (EdDSA)
	// or an *rsa.PrivateKey (RS256); KeyID is its kid, when the
	// provider needs one.
	PrivateKey crypto.Signer
	KeyID      string
	// AssertionAudience is the client assertion's aud. Default the
	// endpoint URL (what Okta and Keycloak accept).
	AssertionAudience string
	// Client; default a client with a 5 s timeout.
	Client *http.Client
	// Clock dates client assertions; default time.Now.
	Clock func() time.Time
	// SignedResponse, when set, asks for the JWT response of RFC 9701
	// (Accept: application/token-introspection+jwt) and accepts only a
	// response it verifies; a plain JSON answer is then refused.
	SignedResponse *IntrospectionJWTVerifier
}

// endpoint returns Endpoint, or the one in the issuer's metadata.
func (ri *RemoteIntrospector) endpoint(ctx context.Context) (string, error) {
	if ri.Endpoint != "" {
		return ri.Endpoint, nil
	}
	if ri.Metadata == nil {
		return "", fmt.Errorf("%w: no endpoint", ErrIntrospection)
	}
	m, err := ri.Metadata.Metadata(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrIntrospection, err)
	}
	if m.IntrospectionEndpoint == "" {
		return "", fmt.Errorf("%w: the issuer's metadata has no introspection_endpoint", ErrIntrospection)
	}
	return m.IntrospectionEndpoint, nil
}

// Introspect implements Introspector.
func (ri *RemoteIntrospector) Introspect(ctx context.Context, token string) (*Introspection, error) {
	client := ri.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	endpoint, err := ri.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"token": {token}, "token_type_hint": {oauth.HintAccessToken}}
	if ri.PrivateKey != nil {
		a, err := ri.assertion(endpoint)
		if err != nil {
			return nil, fmt.Errorf("%w: client assertion: %v", ErrIntrospection, err)
		}
		form.Set("client_id", ri.ClientID)
		form.Set("client_assertion_type", oauth.ClientAssertionJWTBearer)
		form.Set("client_assertion", a)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIntrospection, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	accept := "application/json"
	if ri.SignedResponse != nil {
		accept = MediaTypeIntrospectionJWT
	}
	req.Header.Set("Accept", accept)
	if ri.PrivateKey == nil {
		req.SetBasicAuth(url.QueryEscape(ri.ClientID), url.QueryEscape(ri.ClientSecret)) // RFC 6749 §2.3.1
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIntrospection, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", ErrIntrospection, resp.StatusCode)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != accept {
		return nil, fmt.Errorf("%w: content type %q, want %s", ErrIntrospection, ct, accept)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil || len(body) > maxDocument {
		return nil, fmt.Errorf("%w: response unreadable or too large", ErrIntrospection)
	}
	if ri.SignedResponse != nil {
		return ri.SignedResponse.Verify(ctx, string(body))
	}
	var c claims
	if err := json.Unmarshal(body, &c); err != nil || c.Active == nil {
		return nil, fmt.Errorf("%w: response is not an RFC 7662 JSON object with active", ErrIntrospection)
	}
	return c.introspection()
}

// assertion signs a client assertion (RFC 7523 §3): iss and sub the
// client, aud the endpoint (or AssertionAudience), a unique jti and a
// one-minute lifetime.
func (ri *RemoteIntrospector) assertion(endpoint string) (string, error) {
	var alg jose.SignatureAlgorithm
	switch k := ri.PrivateKey.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("ECDSA keys must be on P-256")
		}
		alg = jose.ES256
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	case *rsa.PrivateKey:
		alg = jose.RS256
	default:
		return "", fmt.Errorf("unsupported key type %T", k)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if ri.KeyID != "" {
		opts = opts.WithHeader("kid", ri.KeyID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: ri.PrivateKey}, opts)
	if err != nil {
		return "", err
	}
	now := time.Now()
	if ri.Clock != nil {
		now = ri.Clock()
	}
	aud := ri.AssertionAudience
	if aud == "" {
		aud = endpoint
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	payload, err := json.Marshal(map[string]any{
		"iss": ri.ClientID, "sub": ri.ClientID, "aud": aud, "jti": base64.RawURLEncoding.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (c *claims) introspection() (*Introspection, error) {
	in := &Introspection{
		Active: *c.Active, Issuer: c.Issuer, Subject: c.Subject, ClientID: c.ClientID,
		Audience: c.Audience, TokenID: c.JTI,
	}
	if len(c.Scope) > 0 && string(c.Scope) != "null" {
		l, err := scopeList(c.Scope)
		if err != nil {
			return nil, fmt.Errorf("%w: scope: %v", ErrIntrospection, err)
		}
		in.Scope = strings.Join(l, " ")
	}
	var ok [3]bool
	in.Expiry, _, ok[0] = numericDate(c.Expiry)
	in.IssuedAt, _, ok[1] = numericDate(c.IssuedAt)
	in.NotBefore, _, ok[2] = numericDate(c.NotBefore)
	if !ok[0] || !ok[1] || !ok[2] {
		return nil, fmt.Errorf("%w: exp, iat or nbf is not a NumericDate", ErrIntrospection)
	}
	if c.Cnf != nil {
		in.JKT, in.X5TS256 = c.Cnf.JKT, c.Cnf.X5TS256
	}
	return in, nil
}
