package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/wardauth/ward/oauth"
)

// TokenExchange exchanges subjectToken, an access token this client
// received, for a token aimed at resources (RFC 8693 §2.1), bound to this
// client's key: a service calling the next one on its caller's behalf
// (docs/DELEGATION.md). scope, when not empty, narrows the token. The
// client must authenticate with a key (WithPrivateKeyJWT or mTLS).
func (c *Client) TokenExchange(ctx context.Context, subjectToken string, resources []string, scope string) (*oauth2.Token, error) {
	form := url.Values{
		"grant_type":         {string(oauth.GrantTokenExchange)},
		"subject_token":      {subjectToken},
		"subject_token_type": {oauth.TokenTypeAccessToken},
		"resource":           resources,
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	tok, raw, err := c.tokenRaw(ctx, form)
	if err != nil {
		return nil, err
	}
	if t, _ := raw["issued_token_type"].(string); t != oauth.TokenTypeAccessToken {
		return nil, fmt.Errorf("%w: issued_token_type %q, want %s (RFC 8693 §2.2.1)", ErrBadResponse, t, oauth.TokenTypeAccessToken)
	}
	return tok, nil
}

// assertion signs a client assertion for endpoint (RFC 7523 §3): iss and
// sub the client, aud the endpoint, a fresh jti, one minute of life.
func (c *Client) assertion(endpoint string) (string, error) {
	var alg jose.SignatureAlgorithm
	switch k := c.o.assertionKey.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("client: private_key_jwt: ECDSA keys must be on P-256")
		}
		alg = jose.ES256
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	case *rsa.PrivateKey:
		alg = jose.RS256
	default:
		return "", fmt.Errorf("client: private_key_jwt: unsupported key type %T", k)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if c.o.assertionKID != "" {
		opts = opts.WithHeader("kid", c.o.assertionKID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: c.o.assertionKey}, opts)
	if err != nil {
		return "", fmt.Errorf("client: private_key_jwt: %w", err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := c.o.clock()
	payload, err := json.Marshal(map[string]any{
		"iss": c.clientID, "sub": c.clientID, "aud": strings.SplitN(endpoint, "?", 2)[0],
		"jti": base64.RawURLEncoding.EncodeToString(jti), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("client: private_key_jwt: %w", err)
	}
	return jws.CompactSerialize()
}
