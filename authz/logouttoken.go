package authz

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/store"
)

// Back-Channel Logout 1.0 vocabulary.
const (
	// EventBackchannelLogout is the one member of a logout token's events
	// claim (§2.4).
	EventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"
	// TypLogoutJWT is a logout token's JWS typ (§2.4 recommends it, so
	// that no other kind of JWT can be taken for one; RFC 8725 §3.11).
	TypLogoutJWT = "logout+jwt"
	// logoutTokenTTL: a logout token is used at once by its receiver;
	// §2.4 recommends a short lifetime (a retry signs a new one).
	logoutTokenTTL = 2 * time.Minute
)

// errLogoutTokenSubject: Back-Channel Logout 1.0 §2.4 needs sub or sid.
var errLogoutTokenSubject = errors.New("authz: a logout token needs sub or sid")

// errLogoutTokenUTF8: a claim is not UTF-8 (RFC 8259 §8.1), so JSON
// cannot carry it unchanged.
var errLogoutTokenUTF8 = errors.New("authz: a logout token claim is not valid UTF-8")

// logoutClaims are a logout token's claims (Back-Channel Logout 1.0 §2.4):
// iss, aud, iat, exp, jti, events, and sub and/or sid. There is no nonce
// member at all: §2.4 prohibits it, so that a logout token can never pass
// for an ID token.
type logoutClaims struct {
	Issuer   string              `json:"iss"`
	Subject  string              `json:"sub,omitempty"`
	Audience audience            `json:"aud"`
	IssuedAt int64               `json:"iat"`
	Expiry   int64               `json:"exp"`
	JTI      string              `json:"jti"`
	Events   map[string]struct{} `json:"events"`
	SID      string              `json:"sid,omitempty"`
}

// newLogoutClaims builds the claims of a logout token for clientID about
// sub and/or sid, issued at now.
func newLogoutClaims(iss, clientID, sub, sid string, now time.Time) (*logoutClaims, error) {
	if sub == "" && sid == "" {
		return nil, errLogoutTokenSubject
	}
	for _, v := range [...]string{iss, clientID, sub, sid} {
		if !utf8.ValidString(v) { // JSON would replace the bytes: another value
			return nil, errLogoutTokenUTF8
		}
	}
	return &logoutClaims{
		Issuer: iss, Subject: sub, Audience: audience{clientID},
		IssuedAt: now.Unix(), Expiry: now.Add(logoutTokenTTL).Unix(), JTI: randomToken(16),
		Events: map[string]struct{}{EventBackchannelLogout: {}}, SID: sid,
	}, nil
}

// buildLogoutToken signs a logout token with k: typ logout+jwt, kid k's.
func buildLogoutToken(k *keys.SigningKey, c *logoutClaims) (string, error) {
	return signJWT(k, TypLogoutJWT, c)
}

// logoutToken makes the logout token telling client c that the session
// sid of the user sub ended. The token's sub is the one c's ID tokens
// carry (pairwise or public, subjectFor), and so is its sid (clientSID);
// sid is sent whenever it is known (§2.4 allows it always; a client with
// backchannel_logout_session_required needs it, §2.2).
func (s *Server) logoutToken(ctx context.Context, c *store.Client, sub, sid string, now time.Time) (string, error) {
	if c.BackchannelLogoutSessionRequired && sid == "" {
		return "", fmt.Errorf("%w: client requires sid and none is known", errLogoutTokenSubject)
	}
	claims, err := newLogoutClaims(s.issuer, c.ID, s.subjectFor(c, sub), s.clientSID(c, sid), now)
	if err != nil {
		return "", err
	}
	k, err := s.idTokenKey(ctx, c) // signed as c's ID tokens are (§2.4)
	if err != nil {
		return "", err
	}
	return buildLogoutToken(k, claims)
}
