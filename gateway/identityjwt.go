package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/resource"
)

// IdentityJWTType is the typ of the identity JWTs the gateway signs, so an
// upstream can never mistake one for an access token (RFC 8725 §3.11).
const IdentityJWTType = "ward-identity+jwt"

// IdentityJWKSPath is where the admin handler serves the public keys that
// verify identity JWTs.
const IdentityJWKSPath = "/identity/jwks.json"

const defaultIdentityTTL = 60 * time.Second

// identitySigner signs the identity JWTs sent to upstreams.
type identitySigner struct {
	signer jose.Signer
	jwks   []byte
	issuer string
}

// IdentityClaims are the claims of an identity JWT.
type IdentityClaims struct {
	jwt.Claims
	ClientID string `json:"client_id,omitempty"`
	Scope    string `json:"scope,omitempty"`
	// Cnf carries the DPoP key thumbprint the caller proved (RFC 7800).
	Cnf   map[string]string `json:"cnf,omitempty"`
	Route string            `json:"ward_route,omitempty"`
	// TokenIssuer is the iss of the caller's access token: with several
	// gateway.issuers, subjects and client ids are names within it.
	TokenIssuer string `json:"ward_token_iss,omitempty"`
}

func newIdentitySigner(cfg config.IdentityJWT, issuer string) (*identitySigner, error) {
	if cfg.Header == "" {
		return nil, nil
	}
	var key *ecdsa.PrivateKey
	if cfg.KeyFile != "" {
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: identity_jwt.key_file: %w", ErrConfig, err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%w: identity_jwt.key_file %s: no PEM block", ErrConfig, cfg.KeyFile)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		ek, ok := k.(*ecdsa.PrivateKey)
		if err != nil || !ok || ek.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: identity_jwt.key_file %s: want a PKCS#8 P-256 private key", ErrConfig, cfg.KeyFile)
		}
		key = ek
	} else {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	if err != nil {
		return nil, err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType(IdentityJWTType).WithHeader(jose.HeaderKey("kid"), pub.KeyID))
	if err != nil {
		return nil, err
	}
	return &identitySigner{signer: s, jwks: jwks, issuer: issuer}, nil
}

// sign makes the identity JWT for a request on route rt: audience the
// route's upstream, lifetime ttl.
func (s *identitySigner) sign(id *resource.Identity, rt *route, ttl time.Duration, now time.Time) (string, error) {
	if ttl <= 0 {
		ttl = defaultIdentityTTL
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	c := IdentityClaims{
		Claims: jwt.Claims{
			Issuer: s.issuer, Subject: id.Subject, Audience: jwt.Audience{rt.upstream},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl)),
			ID: base64.RawURLEncoding.EncodeToString(jti),
		},
		ClientID: id.ClientID, Scope: strings.Join(id.Scopes, " "), Route: rt.cfg.Name, TokenIssuer: id.Issuer,
	}
	if id.JKT != "" {
		c.Cnf = map[string]string{"jkt": id.JKT}
	}
	return jwt.Signed(s.signer).Claims(c).Serialize()
}

func (s *identitySigner) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(s.jwks)
}
