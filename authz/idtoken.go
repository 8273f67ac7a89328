package authz

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// typIDToken is the typ header of Ward's ID tokens: "JWT" (RFC 7519
// §5.1), never "at+jwt", so that an ID token cannot pass as an RFC 9068
// access token (RFC 9068 §4 requires verifiers to check typ), and an
// access token (typ at+jwt) cannot pass as an ID token.
const typIDToken = "JWT"

// DefaultIDTokenTTL is the ID token lifetime when tokens.id_token_ttl is
// not set.
const DefaultIDTokenTTL = 5 * time.Minute

// idClaims are the claims of an ID token (OIDC Core §2, §3.1.3.6).
type idClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Nonce    string   `json:"nonce,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	AZP      string   `json:"azp,omitempty"`
	SID      string   `json:"sid,omitempty"`
	ATHash   string   `json:"at_hash,omitempty"`
}

// idTokenInput is what an ID token describes: the user, when and how they
// logged in, and the access token it accompanies.
type idTokenInput struct {
	subject     string
	scope       string // granted: bounds the user claims released
	authTime    time.Time
	oidc        *store.OIDC
	accessToken string
}

func (s *Server) idTokenTTL() time.Duration {
	if d := s.cfg.Tokens.IDTokenTTL; d > 0 {
		return d
	}
	return DefaultIDTokenTTL
}

// idToken signs the ID token of a code or refresh grant (OIDC Core
// §3.1.3.3, §12.2) with the client's algorithm (id_token_signed_response_alg).
func (s *Server) idToken(ctx context.Context, c *client, in idTokenInput) (string, error) {
	k, err := s.idTokenKey(ctx, c.Client)
	if err != nil {
		return "", oauth.Wrap(err, "no key for the ID token")
	}
	sub, err := s.subject(c.Client, in.subject)
	if err != nil {
		return "", oauth.Wrap(err, "no subject for the ID token")
	}
	now := s.now()
	claims := idClaims{
		Issuer:   s.issuer,
		Subject:  sub,
		Audience: audience{c.ID},
		Expiry:   now.Add(s.idTokenTTL()).Unix(),
		IssuedAt: now.Unix(),
		Nonce:    in.oidc.Nonce,
		ACR:      in.oidc.ACR,
		AMR:      in.oidc.AMR,
		AZP:      c.ID,
		SID:      s.clientSID(c.Client, in.oidc.SID),
		ATHash:   tokenHash(k.Algorithm, in.accessToken),
	}
	if !in.authTime.IsZero() {
		claims.AuthTime = in.authTime.Unix()
	}
	payload, err := json.Marshal(&claims)
	if err != nil {
		return "", oauth.Wrap(err, "cannot encode the ID token")
	}
	if payload, err = s.withRequestedClaims(ctx, payload, in); err != nil {
		return "", err
	}
	tok, err := signJWT(k, typIDToken, json.RawMessage(payload))
	if err != nil {
		return "", oauth.Wrap(err, "cannot sign the ID token")
	}
	return tok, nil
}

// idTokenKey returns the key for c's ID tokens: the primary key when c
// registered no algorithm or the primary one, else the RS256 chain, made
// on first use (keys.Manager.EnsureKeyFor).
func (s *Server) idTokenKey(ctx context.Context, c *store.Client) (*keys.SigningKey, error) {
	return s.keyForAlg(ctx, c.ID, "id_token_signed_response_alg", c.IDTokenSignedResponseAlg)
}

// keyForAlg returns the signing key of a client's registered algorithm
// (what names the registration metadata): the primary key when alg is
// empty or the primary one's, else the RS256 chain, made on first use.
func (s *Server) keyForAlg(ctx context.Context, clientID, what, alg string) (*keys.SigningKey, error) {
	now := s.now()
	if alg == "" || alg == string(s.km.Options().Algorithm) {
		return s.km.Signer(now)
	}
	if alg != store.AlgRS256 {
		return nil, fmt.Errorf("authz: client %q: %s %q has no key chain", clientID, what, alg)
	}
	k, err := s.km.SignerFor(keys.RS256, now)
	if errors.Is(err, keys.ErrNoSigningKey) {
		if err := s.km.EnsureKeyFor(ctx, keys.RS256, now); err != nil {
			return nil, err
		}
		return s.km.SignerFor(keys.RS256, now)
	}
	return k, err
}

// ensureStaticKeyChains makes the RS256 key at start when a static client
// registered RS256, so that in a deployment of several instances every
// one publishes it before the first such ID token (a client created later
// gets it on first use, idTokenKey).
func (s *Server) ensureStaticKeyChains(ctx context.Context) {
	for _, c := range s.cfg.Clients {
		if slices.Contains([]string{c.IDTokenSignedResponseAlg, c.UserinfoSignedResponseAlg,
			c.AuthorizationSignedResponseAlg, c.IntrospectionSignedResponseAlg}, store.AlgRS256) {
			if err := s.km.EnsureKeyFor(ctx, keys.RS256, s.now()); err != nil && ctx.Err() == nil {
				s.log.Error("authz: making the RS256 signing key", "err", err)
			}
			return
		}
	}
}

// tokenHash is at_hash (OIDC Core §3.1.3.6): the left half of the hash of
// the token's ASCII, base64url, with the hash of the JWS algorithm
// (SHA-256 for ES256 and RS256; SHA-512 for EdDSA, as OpenID Connect
// implementations agree for Ed25519).
func tokenHash(alg jose.SignatureAlgorithm, token string) string {
	if token == "" {
		return ""
	}
	var sum []byte
	if alg == jose.EdDSA {
		h := sha512.Sum512([]byte(token))
		sum = h[:]
	} else {
		h := sha256.Sum256([]byte(token))
		sum = h[:]
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// withRequestedClaims adds to the ID token's payload the user's claims
// that the claims request asks of the ID token (OIDC Core §5.5) and a
// granted scope releases; a claim the user does not have, or did not
// consent to, is left out (§5.5.1: even an essential one).
// Without such a request it reads nothing.
func (s *Server) withRequestedClaims(ctx context.Context, payload []byte, in idTokenInput) ([]byte, error) {
	if in.oidc.ClaimsRequest == "" {
		return payload, nil
	}
	cr, _, e := parseClaimsRequest(in.oidc.ClaimsRequest)
	if e != nil || cr == nil || len(cr.IDToken) == 0 {
		return payload, nil // validated when stored; nothing for the ID token
	}
	u, err := s.st.GetUser(ctx, in.subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.New(oauth.InvalidGrant, "the user no longer exists")
	}
	if err != nil {
		return nil, oauth.Wrap(err, "cannot read the user")
	}
	extra := userClaimsFor(u, cr.IDToken, in.scope)
	if len(extra) == 0 {
		return payload, nil
	}
	more, err := json.Marshal(extra)
	if err != nil {
		return nil, oauth.Wrap(err, "cannot encode the user's claims")
	}
	// Both are JSON objects with disjoint names: join them.
	return append(append(payload[:len(payload)-1], ','), more[1:]...), nil
}

// userClaimsFor returns the user's standard claims named in want (OIDC
// Core §5.1) that a granted scope releases (claimGranted), updated_at from
// the record; protocol claims (sub, acr, ...) are never taken from here.
func userClaimsFor(u *store.User, want map[string]*claimSpec, scope string) map[string]json.RawMessage {
	var all map[string]json.RawMessage
	b, _ := json.Marshal(&u.Claims) // a struct of strings, bools and strings
	_ = json.Unmarshal(b, &all)
	if !u.UpdatedAt.IsZero() {
		all["updated_at"], _ = json.Marshal(u.UpdatedAt.Unix())
	}
	out := map[string]json.RawMessage{}
	for name := range want {
		if v, ok := all[name]; ok && claimGranted(scope, name) {
			out[name] = v
		}
	}
	return out
}

var errNotOurIDToken = errors.New("authz: not an ID token this server issued")

// verifyIDToken checks that raw is an ID token this server issued:
// signature by a published key under the allowed algorithms, typ JWT, iss,
// and (when clientID is not empty) that clientID is an audience. Expiry is
// not checked: OIDC Core §3.1.2.1 accepts an expired id_token_hint, and
// RP-Initiated Logout 1.0 §2 does too. An access token (typ at+jwt) or a
// logout token (typ logout+jwt) is refused.
func (s *Server) verifyIDToken(raw, clientID string) (*idClaims, error) {
	if len(raw) > maxIDTokenHint || strings.Count(raw, ".") != 2 || strictjson.CheckCompact(raw, strictjson.JOSENames) != nil {
		return nil, errNotOurIDToken
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return nil, errNotOurIDToken
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != typIDToken {
		return nil, errNotOurIDToken
	}
	set := s.km.JWKS(s.now())
	ks := set.Key(h.KeyID)
	if len(ks) != 1 || ks[0].Algorithm != h.Algorithm {
		return nil, errNotOurIDToken
	}
	var c idClaims
	if err := tok.Claims(ks[0].Key, &c); err != nil {
		return nil, errNotOurIDToken
	}
	// exp and iat are REQUIRED in an ID token (OIDC Core §2): a signed
	// UserInfo response (§5.3.2), same typ and keys, has neither.
	if c.Issuer != s.issuer || c.Subject == "" || c.Expiry == 0 || c.IssuedAt == 0 ||
		(clientID != "" && !contains(c.Audience, clientID)) {
		return nil, errNotOurIDToken
	}
	return &c, nil
}

// checkIDTokenHint verifies the request's id_token_hint (OIDC Core
// §3.1.2.1) and keeps only its subject, which proceed compares with the
// session's.
func (s *Server) checkIDTokenHint(req *authRequest, c *client) *oauth.Error {
	hint, err := s.verifyIDToken(req.IDTokenHint, c.ID)
	req.IDTokenHint = ""
	if err != nil {
		return oauth.New(oauth.InvalidRequest, "id_token_hint is not an ID token this server issued to this client")
	}
	if req.HintSub != "" && req.HintSub != hint.Subject {
		return oauth.New(oauth.InvalidRequest, "id_token_hint and the claims request name different subjects")
	}
	req.HintSub = hint.Subject
	return nil
}
