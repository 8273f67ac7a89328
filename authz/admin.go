package authz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"os"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/store"
)

// SecretBytes is the entropy of a generated client secret: 256 bits.
const SecretBytes = 32

// NewClientSecret generates a client secret (256 random bits, base64url)
// and its SHA-256, the only form stored. Show the secret once.
func NewClientSecret() (secret string, hash []byte) {
	secret = randomToken(SecretBytes)
	return secret, HashClientSecret(secret)
}

// HashClientSecret is the stored form of a client secret.
func HashClientSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateClient registers c. For the client_secret_* methods it generates
// the secret, stores its hash in c.SecretHash and returns the secret,
// which is not kept anywhere: show it to the operator once. Defaults:
// grant types authorization_code and refresh_token, sender constraint
// dpop. It returns store.ErrAlreadyExists for a taken client_id.
func CreateClient(ctx context.Context, st store.Clients, c *store.Client, now time.Time) (secret string, err error) {
	if err := normaliseClient(c); err != nil {
		return "", err
	}
	if c.AuthMethod == oauth.AuthSecretBasic || c.AuthMethod == oauth.AuthSecretPost {
		secret, c.SecretHash = NewClientSecret()
	}
	c.CreatedAt = now
	if err := st.CreateClient(ctx, c); err != nil {
		return "", err
	}
	return secret, nil
}

func normaliseClient(c *store.Client) error {
	switch c.AuthMethod {
	case oauth.AuthSecretBasic, oauth.AuthSecretPost, oauth.AuthNone:
	case oauth.AuthTLSClient: // RFC 8705 §2.1 (mtls.go)
		if _, err := parseTLSClientAuth(c.JWKS); err != nil {
			return fmt.Errorf("%w: client %q: %v", ErrConfig, c.ID, err)
		}
	case oauth.AuthPrivateKeyJWT, oauth.AuthSelfSignedTLSClient:
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(c.JWKS, &set); err != nil || len(set.Keys) == 0 {
			return fmt.Errorf("%w: client %q: %s needs a JWKS with at least one key", ErrConfig, c.ID, c.AuthMethod)
		}
		for _, k := range set.Keys {
			if !k.IsPublic() {
				return fmt.Errorf("%w: client %q: the JWKS holds a private key", ErrConfig, c.ID)
			}
		}
	default:
		return fmt.Errorf("%w: client %q: unknown auth method %q", ErrConfig, c.ID, c.AuthMethod)
	}
	if c.ID == "" {
		return fmt.Errorf("%w: client_id is empty", ErrConfig)
	}
	if c.RequireSignedRequestObject && len(clientKeys(c.JWKS)) == 0 {
		return fmt.Errorf("%w: client %q: require_signed_request_object needs a JWKS with the keys that sign its request objects", ErrConfig, c.ID)
	}
	if _, err := fapi.Parse(c.Profile); err != nil {
		return fmt.Errorf("%w: client %q: %w", ErrConfig, c.ID, err)
	}
	// The pages show the logo and link the home page: https only
	// (config.CheckHTTPSURL, docs/BRANDING.md).
	for _, u := range []string{c.LogoURI, c.ClientURI} {
		if err := config.CheckHTTPSURL(u); u != "" && err != nil {
			return fmt.Errorf("%w: client %q: %v", ErrConfig, c.ID, err)
		}
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	}
	if c.SenderConstraint == "" {
		c.SenderConstraint = store.ConstraintDPoP
	}
	if c.Public() && c.SenderConstraint == store.ConstraintBearer {
		return fmt.Errorf("%w: client %q: public clients cannot opt out of DPoP", ErrConfig, c.ID)
	}
	return nil
}

// SyncStatic declares the configuration's static clients and users in the
// store (upsert), hashing password_env passwords with argon2id and
// secret_env secrets with SHA-256, and reading jwks_file. Call it at start,
// before serving.
func SyncStatic(ctx context.Context, st store.Store, cfg *config.Config, now time.Time) error {
	for _, cc := range cfg.Clients {
		c := &store.Client{
			ID: cc.ID, Name: cc.Name, AuthMethod: cc.AuthMethod,
			RedirectURIs: cc.RedirectURIs, GrantTypes: cc.GrantTypes, Scopes: cc.Scopes,
			Audiences: cc.Audiences, SenderConstraint: cc.SenderConstraint, RequirePAR: cc.RequirePAR, Profile: string(cc.Profile),
			RequireSignedRequestObject: cc.RequireSignedRequestObject,
			AllowRememberedConsent:     cc.AllowRememberedConsent,
			AccessTokenTTL:             cc.AccessTokenTTL, Static: true, CreatedAt: now,
			IDTokenSignedResponseAlg: cc.IDTokenSignedResponseAlg, UserinfoSignedResponseAlg: cc.UserinfoSignedResponseAlg,
			SubjectType: cc.SubjectType, SectorIdentifierURI: cc.SectorIdentifierURI,
			PostLogoutRedirectURIs: cc.PostLogoutRedirectURIs, BackchannelLogoutURI: cc.BackchannelLogoutURI,
			BackchannelLogoutSessionRequired: cc.BackchannelLogoutSessionRequired,
			LogoutRevokesGrants:              cc.LogoutRevokesGrants, DefaultMaxAge: cc.DefaultMaxAge,
			LogoURI: cc.LogoURI, ClientURI: cc.ClientURI,
			AuthorizationSignedResponseAlg: cc.AuthorizationSignedResponseAlg,
			IntrospectionSignedResponseAlg: cc.IntrospectionSignedResponseAlg,
		}
		switch {
		case cc.SecretHash != "":
			h, err := hex.DecodeString(cc.SecretHash)
			if err != nil || len(h) != sha256.Size {
				return fmt.Errorf("%w: client %q: secret_hash is not hex SHA-256", ErrConfig, cc.ID)
			}
			c.SecretHash = h
		case cc.Secret != "":
			c.SecretHash = HashClientSecret(cc.Secret)
		}
		switch {
		case cc.JWKS != "":
			c.JWKS = []byte(cc.JWKS)
		case cc.JWKSFile != "":
			b, err := os.ReadFile(cc.JWKSFile)
			if err != nil {
				return fmt.Errorf("%w: client %q: %w", ErrConfig, cc.ID, err)
			}
			c.JWKS = b
		}
		if err := normaliseClient(c); err != nil {
			return err
		}
		if err := st.UpsertClient(ctx, c); err != nil {
			return fmt.Errorf("authz: declaring client %q: %w", cc.ID, err)
		}
	}
	for _, cu := range cfg.Users {
		claims, err := config.ParseUserClaims(cu.Claims)
		if err != nil {
			return fmt.Errorf("%w: user %q: claims: %w", ErrConfig, cu.Username, err)
		}
		u := &store.User{Subject: cu.Subject, Username: cu.Username, PasswordHash: cu.PasswordHash, Claims: claims,
			Static: true, CreatedAt: now, UpdatedAt: now}
		if u.PasswordHash == "" {
			if cu.Password == "" {
				return fmt.Errorf("%w: user %q has no password", ErrConfig, cu.Username)
			}
			h, err := password.Hash(cu.Password)
			if err != nil {
				return err
			}
			u.PasswordHash = h
		}
		if err := st.UpsertUser(ctx, u); err != nil {
			return fmt.Errorf("authz: declaring user %q: %w", cu.Username, err)
		}
	}
	return nil
}
