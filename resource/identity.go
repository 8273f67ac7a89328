package resource

import (
	"context"
	"slices"
	"time"
)

// Identity is what a verified access token says about the caller. It is
// shared between requests presenting the same token: treat it as
// read-only.
type Identity struct {
	// Issuer is the authorization server that issued the token (iss).
	Issuer string
	// Subject is the resource owner (sub); for client_credentials tokens
	// it is the client.
	Subject string
	// ClientID is the client the token was issued to (client_id).
	ClientID string
	// Scopes are the granted scopes (scope, split on spaces).
	Scopes []string
	// Audience is the token's aud.
	Audience []string
	// JKT is the RFC 7638 thumbprint of the key the token is bound to
	// (cnf.jkt); empty for a bearer token.
	JKT string
	// X5TS256 is the thumbprint of the certificate the token is bound to
	// (cnf.x5t#S256, RFC 8705 §3.1); empty for a token not bound to one.
	X5TS256 string
	// CertThumbprint is the x5t#S256 of the client certificate this
	// request presented (base64url SHA-256 of its DER), or "".
	CertThumbprint string
	// SPIFFEID is the SPIFFE ID (spiffe://trust-domain/path) in the URI
	// SAN of the request's verified client certificate, or "".
	SPIFFEID string
	// TokenID is the token's jti.
	TokenID string
	// IssuedAt and Expiry are iat and exp.
	IssuedAt, Expiry time.Time
}

// HasScope reports whether the token grants scope s.
func (id *Identity) HasScope(s string) bool { return slices.Contains(id.Scopes, s) }

// Bound reports whether the token is sender-constrained (DPoP or mTLS).
func (id *Identity) Bound() bool { return id.JKT != "" || id.X5TS256 != "" }

type identityKey struct{}

// NewContext returns ctx carrying id. The middleware calls it; tests of
// handlers may too.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the middleware verified for this
// request, and false when the request went through no such check.
func IdentityFrom(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}
