package resource

import (
	"errors"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
)

// Leak describes a refusal that proves an access token left the client it
// was issued to. Only two refusals do, and each comes after the token
// itself verified (signature, issuer, expiry, not revoked):
//
//   - a DPoP-bound token presented with the Bearer scheme
//     (ReasonDPoPAsBearer, RFC 9449 §7.2): whoever sent it has the token
//     but not, or not in use, its key;
//   - a DPoP-bound token with a proof whose signature, htm, htu and ath
//     (the hash of this very token) verified but whose key is another
//     (ReasonKeyMismatch, RFC 9449 §4.3 (12)).
//
// A proof that fails to verify (bad signature, stale iat, a replayed jti,
// a missing or stale nonce) proves nothing of the kind and is no Leak.
// Nor is a certificate-bound token over another certificate
// (ReasonCertMismatch): client certificates are renewed routinely (a
// SPIFFE SVID every hour or so) while the tokens bound to the old one
// are still cached, so the legitimate client causes it.
type Leak struct {
	Reason                         Reason
	Issuer, ClientID, Subject, JKT string
	GrantID                        string // Ward's grant_id claim (the token family), or ""
	TokenID                        string // jti
}

// Leaked returns the Leak of a refusal from Authenticate, if it is one.
func Leaked(err error) (*Leak, bool) {
	var f *failure
	if errors.As(err, &f) && f.leak != nil {
		return f.leak, true
	}
	return nil, false
}

// markLeak attaches id's Leak to e when e's reason proves a leak.
func markLeak(e *oauth.Error, id *verified) *oauth.Error {
	switch e.Reason {
	case ReasonDPoPAsBearer, string(dpop.ReasonKeyMismatch):
	default:
		return e
	}
	var f *failure
	if !errors.As(e.Err, &f) {
		f = &failure{err: e.Err}
		e.Err = f
	}
	f.leak = &Leak{Reason: e.Reason, Issuer: id.Issuer, ClientID: id.ClientID, Subject: id.Subject,
		JKT: id.JKT, GrantID: id.grantID, TokenID: id.TokenID}
	return e
}
